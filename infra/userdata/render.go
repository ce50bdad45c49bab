package userdata

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"

	"gopkg.in/yaml.v3"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

//go:embed scripts/*.sh files/*
var staticFS embed.FS

var templates = template.Must(template.New("userdata").Funcs(template.FuncMap{
	"shq":       shellQuote,
	"composeq":  composeQuote,
	"envvalue":  envValue,
	"nginxname": nginxName,
	"indent":    indent,
}).ParseFS(templateFS, "templates/*.tmpl"))

// Where the rendered files land on the instance.
const (
	binDir       = "/opt/bookstore/bin"
	bookstoreDir = "/opt/bookstore"
)

// file is one write_files entry. Content always ends in exactly one newline:
// the YAML literal block "|2" keeps one, so the parsed document round-trips.
type file struct {
	Path    string
	Mode    string
	Content string
}

// document is the data of cloud-config.yaml.tmpl.
type document struct {
	Role     string
	Packages []string
	Files    []file
	Run      string // absolute path of the boot script, run by runcmd without a shell
}

type kv struct{ Key, Value string }

func static(name string) string {
	b, err := staticFS.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: a missing file is a programming error
	}
	return string(b)
}

func script(name string) file {
	return file{Path: binDir + "/" + name, Mode: "0755", Content: static("scripts/" + name)}
}

func execute(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("userdata: render %s: %w", name, err)
	}
	return b.String(), nil
}

// render fills the cloud-config template, then parses the result back and
// checks that every file reads exactly as intended, that runcmd is the one
// boot script, and that the document fits in EC2's MaxBytes.
func render(d document) (string, error) {
	for i := range d.Files {
		f := &d.Files[i]
		if !safePath(f.Path) {
			return "", fmt.Errorf("userdata: unsafe file path %q", f.Path)
		}
		f.Content = strings.TrimRight(f.Content, "\n") + "\n"
	}
	out, err := execute("cloud-config.yaml.tmpl", d)
	if err != nil {
		return "", err
	}
	if err := selfCheck(out, d); err != nil {
		return "", err
	}
	if n := len(Gzip(out)); n > MaxBytes {
		return "", fmt.Errorf("userdata: %s document is %d bytes gzip-compressed (%d plain), over EC2's %d-byte user data limit",
			d.Role, n, len(out), MaxBytes)
	}
	return out, nil
}

// cloudConfig is the part of the schema this package writes.
type cloudConfig struct {
	Packages   []string `yaml:"packages"`
	WriteFiles []struct {
		Path        string `yaml:"path"`
		Owner       string `yaml:"owner"`
		Permissions string `yaml:"permissions"`
		Content     string `yaml:"content"`
	} `yaml:"write_files"`
	Runcmd [][]string `yaml:"runcmd"`
}

func selfCheck(out string, d document) error {
	if !strings.HasPrefix(out, "#cloud-config\n") {
		return fmt.Errorf("userdata: %s document lacks the #cloud-config header", d.Role)
	}
	var c cloudConfig
	if err := yaml.Unmarshal([]byte(out), &c); err != nil {
		return fmt.Errorf("userdata: %s document is not valid YAML: %w", d.Role, err)
	}
	if len(c.WriteFiles) != len(d.Files) {
		return fmt.Errorf("userdata: %s document has %d files, want %d", d.Role, len(c.WriteFiles), len(d.Files))
	}
	for i, f := range d.Files {
		got := c.WriteFiles[i]
		if got.Path != f.Path || got.Permissions != f.Mode || got.Content != f.Content {
			return fmt.Errorf("userdata: %s document: %s does not read back as written", d.Role, f.Path)
		}
	}
	if len(c.Runcmd) != 1 || len(c.Runcmd[0]) != 1 || c.Runcmd[0][0] != d.Run {
		return fmt.Errorf("userdata: %s document: runcmd is %v, want [[%s]]", d.Role, c.Runcmd, d.Run)
	}
	return nil
}

func safePath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-", r)) {
			return false
		}
	}
	return true
}

// shellQuote returns s as one bash word: single-quoted, each embedded quote
// closed, backslash-escaped and reopened. Nothing inside single quotes is
// expanded, so $(...), backquotes, globs and newlines stay literal.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// composeQuote returns s as a YAML double-quoted scalar (JSON's string
// syntax is a subset of it) with '$' doubled, because compose interpolates
// "$VAR" in every value after YAML parsing and reads "$$" as a literal '$'.
func composeQuote(s string) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(strings.ReplaceAll(s, "$", "$$")); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// envValue admits only values that docker's --env-file and compose's
// env_file read identically. The two disagree on quotes, '#', '$' and '\'
// and neither can hold a newline, so there is no escaping that works for
// both: such a value is refused instead.
func envValue(s string) (string, error) {
	for _, r := range s {
		if r < 0x21 || r > 0x7e || strings.ContainsRune("\"'`$#\\", r) {
			return "", fmt.Errorf("env value %q holds %q, which env files cannot carry", clip(s), r)
		}
	}
	return s, nil
}

// nginxName admits a host name into an nginx directive. nginx has quoting,
// but a validated RFC 1123 name never needs it; anything else (';', '{',
// spaces, '$' variables) is refused here as well as by validation.
func nginxName(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty server name")
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return "", fmt.Errorf("server name %q holds %q", clip(s), r)
		}
	}
	return s, nil
}

// indent prefixes every non-empty line of s with n spaces and drops the
// final newline (the template supplies line breaks between entries).
func indent(n int, s string) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n")
}
