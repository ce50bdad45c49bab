// Package doctable keeps a Markdown table in a docs page equal to the Go value it
// documents. The page holds the table between two marker comments,
//
//	<!-- generated: NAME (go generate ./...) -->
//	| … the table … |
//	<!-- end generated: NAME -->
//
// a `go generate` step rewrites what is between them (Write), and a test in the
// package that owns the source fails when the page differs (Check). So a table
// has one source, and the page can't drift from it unnoticed.
package doctable

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Command regenerates every generated table; Check's error names it.
const Command = "go generate ./..."

// Table is a Markdown table: a header row and rows of cells, each cell Markdown.
type Table struct {
	Header []string
	Rows   [][]string
}

// Markdown renders t, one line per row. A "|" in a cell is escaped and a line
// break becomes a space, since either would break the row; a "<" outside code
// spans becomes "&lt;", so plain text like "legacy.<domain>" (as Pulumi.yaml
// descriptions hold it) is not taken for an HTML tag and hidden. It panics if
// a row has not as many cells as the header: a programming error the tests
// catch.
func (t Table) Markdown() string {
	var b strings.Builder
	row := func(cells []string) {
		if len(cells) != len(t.Header) {
			panic(fmt.Sprintf("doctable: row %q has %d cells, the header %d", cells, len(cells), len(t.Header)))
		}
		b.WriteString("|")
		for _, c := range cells {
			c = escapeHTML(strings.ReplaceAll(strings.ReplaceAll(c, "\n", " "), "|", `\|`))
			b.WriteString(" " + c + " |")
		}
		b.WriteString("\n")
	}
	row(t.Header)
	b.WriteString("|" + strings.Repeat("---|", len(t.Header)) + "\n")
	for _, r := range t.Rows {
		row(r)
	}
	return b.String()
}

// escapeHTML replaces "<" outside `code spans` with "&lt;".
func escapeHTML(cell string) string {
	var b strings.Builder
	inCode := false
	for _, r := range cell {
		switch {
		case r == '`':
			inCode = !inCode
		case r == '<' && !inCode:
			b.WriteString("&lt;")
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Code formats s as a Markdown code span, or returns alt when s is empty.
func Code(s, alt string) string {
	if s == "" {
		return alt
	}
	return "`" + s + "`"
}

func begin(name string) string { return "<!-- generated: " + name + " (" + Command + ") -->\n" }
func end(name string) string   { return "<!-- end generated: " + name + " -->\n" }

// Splice returns page with the text between name's markers replaced by body.
// It fails when either marker is missing, appears twice or out of order.
func Splice(page []byte, name, body string) ([]byte, error) {
	b, e := []byte(begin(name)), []byte(end(name))
	i, j := bytes.Index(page, b), bytes.Index(page, e)
	switch {
	case i < 0 || j < 0:
		return nil, fmt.Errorf("no %q … %q markers", strings.TrimSpace(begin(name)), strings.TrimSpace(end(name)))
	case bytes.Count(page, b) > 1 || bytes.Count(page, e) > 1:
		return nil, fmt.Errorf("the markers of %q appear more than once", name)
	case j < i:
		return nil, fmt.Errorf("the end marker of %q comes before its start", name)
	}
	var out bytes.Buffer
	out.Write(page[:i+len(b)])
	out.WriteString(body)
	out.Write(page[j:])
	return out.Bytes(), nil
}

// Root returns the module root: the nearest directory at or above the working
// directory that holds go.mod. Tests and `go generate` run in a package's
// directory; page paths are relative to the root.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// Write puts body between name's markers in the page at path (relative to the
// module root), rewriting the file only when it changes.
func Write(page, name, body string) error {
	path, old, updated, err := splice(page, name, body)
	if err != nil || bytes.Equal(updated, old) {
		return err
	}
	return os.WriteFile(path, updated, 0o644)
}

// Check returns an error when the page at path (relative to the module root)
// does not hold exactly body between name's markers. The error names the page,
// the table, the first differing line and the command that fixes it.
func Check(page, name, body string) error {
	_, old, want, err := splice(page, name, body)
	if err != nil || bytes.Equal(want, old) {
		return err
	}
	return fmt.Errorf("%s: the generated table %q differs from its source; run `%s` from the repository root and commit the page\n%s",
		page, name, Command, firstDiff(string(old), string(want)))
}

// splice reads page and returns its file path, its content and the content
// with body between name's markers.
func splice(page, name, body string) (path string, old, updated []byte, err error) {
	root, err := Root()
	if err != nil {
		return "", nil, nil, err
	}
	path = filepath.Join(root, filepath.FromSlash(page))
	if old, err = os.ReadFile(path); err != nil {
		return "", nil, nil, err
	}
	if updated, err = Splice(old, name, body); err != nil {
		return "", nil, nil, fmt.Errorf("%s: %w", page, err)
	}
	return path, old, updated, nil
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n page:      %s\n generated: %s", i+1, gl, wl)
		}
	}
	return ""
}

// Definitions renders a two-column table: each name as code, then its meaning
// (Markdown), in the order given.
func Definitions(nameHeader, meaningHeader string, defs [][2]string) string {
	t := Table{Header: []string{nameHeader, meaningHeader}}
	for _, d := range defs {
		t.Rows = append(t.Rows, []string{Code(d[0], ""), d[1]})
	}
	return t.Markdown()
}
