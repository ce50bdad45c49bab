package doctable

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMarkdownEscapesCells(t *testing.T) {
	got := Table{Header: []string{"a", "b"}, Rows: [][]string{{"x|y", "two\nlines"}, {"legacy.<domain>", "`legacy.<domain>`"}}}.Markdown()
	want := "| a | b |\n|---|---|\n| x\\|y | two lines |\n| legacy.&lt;domain> | `legacy.<domain>` |\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSplice(t *testing.T) {
	page := "intro\n" + begin("t") + "old\n" + end("t") + "outro\n"
	got, err := Splice([]byte(page), "t", "new\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "intro\n" + begin("t") + "new\n" + end("t") + "outro\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for name, bad := range map[string]string{
		"no markers":  "intro\n",
		"no end":      begin("t") + "old\n",
		"other table": begin("u") + end("u"),
		"twice":       begin("t") + end("t") + begin("t") + end("t"),
		"reversed":    end("t") + begin("t"),
	} {
		if _, err := Splice([]byte(bad), "t", "new\n"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Check passes on a current page, and otherwise names the page, the table, the
// line and the command; Write makes the page current.
func TestCheckAndWrite(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "pkg")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "page.md")
	if err := os.WriteFile(page, []byte(begin("t")+"| old |\n"+end("t")), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub) // as `go test` and `go generate` run: in a package below the root
	err := Check("page.md", "t", "| new |\n")
	if err == nil {
		t.Fatal("a stale table passed")
	}
	for _, want := range []string{"page.md", `"t"`, Command, "| old |", "| new |"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if err := Write("page.md", "t", "| new |\n"); err != nil {
		t.Fatal(err)
	}
	if err := Check("page.md", "t", "| new |\n"); err != nil {
		t.Errorf("after Write: %v", err)
	}
}
