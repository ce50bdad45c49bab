package userdata

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The escapers are the second line of defence behind validation: these tests
// feed them what validation would refuse and check the value stays a value.

func TestShellQuoteIsOneLiteralWord(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "pwned")
	values := []string{
		"", "plain", "it's", "''", `'\''`, "a b\tc", "line1\nline2", "*", "~root",
		"$(touch " + marker + ")", "`touch " + marker + "`", "${IFS}", "x; touch " + marker, "\\", "!!", "-n",
	}
	for _, v := range values {
		cmd := exec.Command("bash", "-c", "printf '%s' "+shellQuote(v))
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("bash rejected %s: %v", shellQuote(v), err)
			continue
		}
		if string(out) != v {
			t.Errorf("shellQuote(%q) reads back as %q", v, out)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a quoted value ran a command")
	}
}

func TestComposeQuoteIsOneYAMLStringWithDollarsEscaped(t *testing.T) {
	for _, v := range append([]string{"", "plain", "a$b", "$$", "${INSTANCE_ID}", "é ünïcode", "tab\there", "<&>"}, hostile[:len(hostile)-2]...) {
		q, err := composeQuote(v)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(q, "\n\r") {
			t.Errorf("composeQuote(%q) = %s spans lines", v, q)
		}
		var doc map[string]string
		if err := yaml.Unmarshal([]byte("image: "+q+"\nother: kept\n"), &doc); err != nil {
			t.Errorf("composeQuote(%q) = %s is not a YAML scalar: %v", v, q, err)
			continue
		}
		if len(doc) != 2 || doc["other"] != "kept" {
			t.Errorf("composeQuote(%q) changed the document around it: %v", v, doc)
		}
		// compose reads "$$" as a literal "$" and interpolates any other "$".
		got := doc["image"]
		if strings.Contains(strings.ReplaceAll(got, "$$", ""), "$") {
			t.Errorf("composeQuote(%q) leaves a bare $ for compose to interpolate: %q", v, got)
		}
		if strings.ReplaceAll(got, "$$", "$") != v {
			t.Errorf("composeQuote(%q) reads back as %q after compose's unescape", v, strings.ReplaceAll(got, "$$", "$"))
		}
	}
}

func TestEnvValueRefusesWhatEnvFilesCannotCarry(t *testing.T) {
	for _, v := range append([]string{"a b", "a\tb", "it's", `"q"`, "$X", "#c", "a\\b", "é"}, hostile...) {
		if v == "x;reboot" || v == "x{}" {
			continue // literal in both env-file readers; validation refuses them earlier
		}
		if _, err := envValue(v); err == nil {
			t.Errorf("envValue(%q) accepted", v)
		}
	}
	for _, v := range []string{"", "5000", testSecret, "admin@example.com,ops+books@example.org", "/app/shared"} {
		if got, err := envValue(v); err != nil || got != v {
			t.Errorf("envValue(%q) = %q, %v", v, got, err)
		}
	}
}

// A file's content cannot leak out of its literal block, whatever it holds.
func TestFileContentStaysInItsBlock(t *testing.T) {
	content := strings.Join([]string{
		"  starts indented",
		"#cloud-config",
		"runcmd:",
		"- [reboot]",
		"---",
		"...",
		"- path: /etc/sudoers",
		"  content: |",
		"key: 'unbalanced",
		"\ttab-led",
		"",
		"",
		"trailing spaces   ",
	}, "\n") + "\n"
	out, err := render(document{
		Role:     "test",
		Packages: []string{"docker"},
		Files:    []file{{Path: "/opt/x", Mode: "0644", Content: content}},
		Run:      "/opt/x",
	})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	var c map[string]any
	if err := yaml.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	if len(c) != 3 {
		t.Errorf("top-level keys = %v, want packages, write_files, runcmd", c)
	}
	files := c["write_files"].([]any)
	if len(files) != 1 || files[0].(map[string]any)["content"] != content {
		t.Errorf("content did not survive:\n%#v", files)
	}
}

// The self-check in render refuses a document whose files would not read
// back as written, rather than shipping it.
func TestRenderRefusesContentYAMLWouldAlter(t *testing.T) {
	for _, content := range []string{"a\rb\n", "nul\x00byte\n", "bell\x07\n"} {
		if out, err := render(document{Role: "test", Files: []file{{Path: "/opt/x", Mode: "0644", Content: content}}, Run: "/opt/x"}); err == nil {
			t.Errorf("content %q rendered:\n%s", content, out)
		}
	}
	if _, err := render(document{Role: "test", Files: []file{{Path: "/opt/x y", Mode: "0644", Content: "x"}}, Run: "/opt/x"}); err == nil {
		t.Error("a path with a space rendered")
	}
}

func TestNginxNameRefusesDirectiveSyntax(t *testing.T) {
	for _, v := range append([]string{"", "a b", "a;b", "a{", "$host", "Legacy.example.com", "a\nb"}, hostile...) {
		if _, err := nginxName(v); err == nil {
			t.Errorf("nginxName(%q) accepted", v)
		}
	}
	if got, err := nginxName("legacy.example-1.com"); err != nil || got != "legacy.example-1.com" {
		t.Errorf("nginxName refused a plain name: %q, %v", got, err)
	}
}
