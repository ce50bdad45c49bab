package docs

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/yuin/goldmark"
	mdast "github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
	"mvdan.cc/sh/v3/syntax"
)

// root is the repository root: this package is docs/, one level below it.
const root = ".."

// pages are README.md and every docs/*.md, as paths relative to the root.
func pages(t *testing.T) []string {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, f := range found {
		rel, _ := filepath.Rel(root, f)
		out = append(out, filepath.ToSlash(rel))
	}
	return out
}

// page is one parsed Markdown file.
type page struct {
	path    string // relative to the root
	src     []byte
	doc     mdast.Node
	anchors map[string]bool // GitHub's heading ids
}

var md = goldmark.New(goldmark.WithExtensions(extension.GFM))

var (
	parsedMu sync.Mutex
	parsed   = map[string]*page{}
)

// load parses the Markdown file at path (relative to the root), once.
func load(path string) (*page, error) {
	parsedMu.Lock()
	defer parsedMu.Unlock()
	if p, ok := parsed[path]; ok {
		return p, nil
	}
	src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(path)))
	if err != nil {
		return nil, err
	}
	p := &page{path: path, src: src, doc: md.Parser().Parse(text.NewReader(src)), anchors: map[string]bool{}}
	seen := map[string]int{}
	mdast.Walk(p.doc, func(n mdast.Node, entering bool) (mdast.WalkStatus, error) {
		if h, ok := n.(*mdast.Heading); ok && entering {
			p.anchors[uniqueSlug(seen, slug(plainText(h, src)))] = true
			return mdast.WalkSkipChildren, nil
		}
		return mdast.WalkContinue, nil
	})
	parsed[path] = p
	return p, nil
}

// plainText is the text a reader sees in n: code spans' content, link text,
// no emphasis markers.
func plainText(n mdast.Node, src []byte) string {
	var b strings.Builder
	mdast.Walk(n, func(c mdast.Node, entering bool) (mdast.WalkStatus, error) {
		if !entering {
			return mdast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *mdast.Text:
			b.Write(c.Segment.Value(src))
			if c.SoftLineBreak() || c.HardLineBreak() {
				b.WriteByte(' ')
			}
		case *mdast.String:
			b.Write(c.Value)
		case *mdast.RawHTML:
			return mdast.WalkSkipChildren, nil
		}
		return mdast.WalkContinue, nil
	})
	return b.String()
}

// slug is GitHub's id for a heading's text (github-slugger, which github.com
// uses): lower-cased; every character that is not a letter, a mark, a digit,
// "_", "-" or a space removed; each space a "-".
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// uniqueSlug gives a repeated heading GitHub's suffix: "x", "x-1", "x-2".
func uniqueSlug(seen map[string]int, s string) string {
	n := seen[s]
	seen[s]++
	if n == 0 {
		return s
	}
	return fmt.Sprintf("%s-%d", s, n)
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Delegate the domain, before the first `pulumi up`": "delegate-the-domain-before-the-first-pulumi-up",
		"Run it against MySQL, as in production":            "run-it-against-mysql-as-in-production",
		"What `go test ./...` covers":                       "what-go-test--covers",
		"Tests and CI (and the local rehearsal)":            "tests-and-ci-and-the-local-rehearsal",
		"Cost: $130 a month — or less":                      "cost-130-a-month--or-less",
		"snake_case and Ünïcode":                            "snake_case-and-ünïcode",
	} {
		src := []byte("# " + in + "\n")
		doc := md.Parser().Parse(text.NewReader(src))
		if got := slug(plainText(doc.FirstChild(), src)); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
	seen := map[string]int{}
	if got := []string{uniqueSlug(seen, "a"), uniqueSlug(seen, "a"), uniqueSlug(seen, "a")}; !slices.Equal(got, []string{"a", "a-1", "a-2"}) {
		t.Errorf("repeated headings: %q", got)
	}
}

// link is one link or image destination in a page.
type link struct {
	dest string
	line int
}

func (p *page) links() []link {
	var out []link
	mdast.Walk(p.doc, func(n mdast.Node, entering bool) (mdast.WalkStatus, error) {
		if !entering {
			return mdast.WalkContinue, nil
		}
		var dest []byte
		switch n := n.(type) {
		case *mdast.Link:
			dest = n.Destination
		case *mdast.Image:
			dest = n.Destination
		default:
			return mdast.WalkContinue, nil
		}
		out = append(out, link{dest: string(dest), line: p.lineOf(n)})
		return mdast.WalkContinue, nil
	})
	return out
}

// lineOf finds the line of n through its first text segment (inline nodes have
// no position of their own).
func (p *page) lineOf(n mdast.Node) int {
	for c := n; c != nil; c = c.Parent() {
		if c.Type() == mdast.TypeBlock && c.Lines().Len() > 0 {
			seg := c.Lines().At(0)
			return bytes.Count(p.src[:seg.Start], []byte("\n")) + 1
		}
		if t, ok := c.(*mdast.Text); ok {
			return bytes.Count(p.src[:t.Segment.Start], []byte("\n")) + 1
		}
		if fc := c.FirstChild(); fc != nil {
			if t, ok := fc.(*mdast.Text); ok {
				return bytes.Count(p.src[:t.Segment.Start], []byte("\n")) + 1
			}
		}
	}
	return 0
}

// checkLink returns what is wrong with a relative link from page p, or "".
// Links with a scheme (https:, mailto:) are not followed.
func checkLink(p *page, dest string) string {
	u, err := url.Parse(dest)
	if err != nil {
		return fmt.Sprintf("%q does not parse: %v", dest, err)
	}
	if u.Scheme != "" || u.Host != "" {
		return ""
	}
	target := p.path
	if u.Path != "" {
		if strings.HasPrefix(u.Path, "/") {
			return fmt.Sprintf("%q is absolute; GitHub resolves it against the site, not the repository: use a relative path", dest)
		}
		target = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(p.path), u.Path)))
		if strings.HasPrefix(target, "../") {
			return fmt.Sprintf("%q leaves the repository", dest)
		}
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(target))); err != nil {
			return fmt.Sprintf("%q: %s does not exist", dest, target)
		}
	}
	if u.Fragment == "" {
		return ""
	}
	if !strings.HasSuffix(target, ".md") {
		if regexp.MustCompile(`^L\d+(-L\d+)?$`).MatchString(u.Fragment) {
			return "" // GitHub's line anchors in a source file
		}
		return fmt.Sprintf("%q: #%s on a file that is not Markdown", dest, u.Fragment)
	}
	tp, err := load(target)
	if err != nil {
		return fmt.Sprintf("%q: %v", dest, err)
	}
	if !tp.anchors[u.Fragment] {
		return fmt.Sprintf("%q: %s has no heading with the id %q (its ids: %s)", dest, target, u.Fragment, strings.Join(slices.Sorted(maps.Keys(tp.anchors)), ", "))
	}
	return ""
}

// Every relative link and #anchor in README.md and docs/*.md leads somewhere:
// the file exists and, in a Markdown file, a heading has that id.
func TestLinks(t *testing.T) {
	for _, path := range pages(t) {
		p, err := load(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range p.links() {
			if msg := checkLink(p, l.dest); msg != "" {
				t.Errorf("%s:%d: %s", path, l.line, msg)
			}
		}
	}
}

// The link check can fail: each kind of broken link is reported.
func TestLinksCanFail(t *testing.T) {
	p, err := load("docs/testing.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"nowhere.md", "deploying.md#no-such-heading", "#no-such-heading", "/docs/cost.md", "../../x.md", "../LICENSE#top"} {
		if checkLink(p, bad) == "" {
			t.Errorf("%q passed", bad)
		}
	}
	for _, good := range []string{"cost.md", "deploying.md#the-names-a-domain-produces", "#generated-tables", "../README.md#quick-start", "https://example.com/x#y", "../infra/main.go#L10"} {
		if msg := checkLink(p, good); msg != "" {
			t.Errorf("%q: %s", good, msg)
		}
	}
}

// RunnableInfo is the info string of a fenced block whose lines are commands to
// run from the repository root; the test parses them. Output, SQL and examples
// to adapt go in blocks with another info string, or none.
const RunnableInfo = "sh"

// command is one `go run` or `go test` found in a runnable block.
type command struct {
	page string
	line int
	args []string // after "go"; an argument that is not a plain word is ""
}

// runnable returns the go run and go test commands of every runnable block.
func runnable(t *testing.T) []command {
	t.Helper()
	var out []command
	for _, path := range pages(t) {
		p, err := load(path)
		if err != nil {
			t.Fatal(err)
		}
		mdast.Walk(p.doc, func(n mdast.Node, entering bool) (mdast.WalkStatus, error) {
			fb, ok := n.(*mdast.FencedCodeBlock)
			if !ok || !entering || string(fb.Language(p.src)) != RunnableInfo {
				return mdast.WalkContinue, nil
			}
			var body bytes.Buffer
			for i := range fb.Lines().Len() {
				seg := fb.Lines().At(i)
				body.Write(seg.Value(p.src))
			}
			first := p.lineOf(fb)
			f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(&body, path)
			if err != nil {
				t.Errorf("%s:%d: a ```%s block is not valid shell: %v", path, first, RunnableInfo, err)
				return mdast.WalkContinue, nil
			}
			syntax.Walk(f, func(n syntax.Node) bool {
				call, ok := n.(*syntax.CallExpr)
				if !ok || len(call.Args) < 2 || call.Args[0].Lit() != "go" {
					return true
				}
				c := command{page: path, line: first + int(call.Pos().Line()) - 1}
				for _, w := range call.Args[1:] {
					c.args = append(c.args, plainWord(w))
				}
				if c.args[0] == "run" || c.args[0] == "test" {
					out = append(out, c)
				}
				return true
			})
			return mdast.WalkContinue, nil
		})
	}
	return out
}

// plainWord is w's value when it has no expansion (quotes removed), else "".
func plainWord(w *syntax.Word) string {
	var b strings.Builder
	for _, part := range w.Parts {
		switch part := part.(type) {
		case *syntax.Lit:
			b.WriteString(part.Value)
		case *syntax.SglQuoted:
			b.WriteString(part.Value)
		case *syntax.DblQuoted:
			for _, q := range part.Parts {
				l, ok := q.(*syntax.Lit)
				if !ok {
					return ""
				}
				b.WriteString(l.Value)
			}
		default:
			return ""
		}
	}
	return b.String()
}

// goFlags are the flags `go help NAME` lists ("\t-name" or "\t-name value"),
// mapped to whether they take a value.
func goFlags(t *testing.T, topics ...string) map[string]bool {
	t.Helper()
	flags := map[string]bool{}
	re := regexp.MustCompile(`^\t-([a-zA-Z][\w.]*)( \S.*)?$`)
	for _, topic := range topics {
		out, err := exec.Command("go", "help", topic).Output()
		if err != nil {
			t.Fatalf("go help %s: %v", topic, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if m := re.FindStringSubmatch(line); m != nil {
				flags[m[1]] = m[2] != ""
			}
		}
	}
	if len(flags) < 20 {
		t.Fatalf("go help %s lists only %d flags: has its format changed?", strings.Join(topics, ", "), len(flags))
	}
	return flags
}

// flagName is "name" for "-name", "--name" or "-name=value", or "" when arg is
// not a flag.
func flagName(arg string) string {
	if len(arg) < 2 || arg[0] != '-' || arg == "--" {
		return ""
	}
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	name, _, _ = strings.Cut(name, "=")
	return name
}

// splitGoArgs separates the go command's own flags from the rest: it returns
// the unknown go flags and the first index after the flags.
func splitGoArgs(args []string, known map[string]bool) (unknown []string, rest int) {
	i := 0
	for i < len(args) {
		name := flagName(args[i])
		if name == "" {
			break
		}
		takesValue, ok := known[name]
		if !ok {
			unknown = append(unknown, args[i])
		}
		i++
		if ok && takesValue && !strings.Contains(args[i-1], "=") {
			i++
		}
	}
	return unknown, i
}

var (
	listedMu sync.Mutex
	listed   = map[string]string{} // pattern → problem, "" for none
)

// checkPackages returns what is wrong with go package patterns, run from the
// root with `go list`, so build tags and the module's layout count.
func checkPackages(patterns []string) []string {
	var problems []string
	for _, pat := range patterns {
		if pat == "" {
			problems = append(problems, "a package argument is not a plain word")
			continue
		}
		listedMu.Lock()
		msg, done := listed[pat]
		listedMu.Unlock()
		if !done {
			msg = listPackage(pat)
			listedMu.Lock()
			listed[pat] = msg
			listedMu.Unlock()
		}
		if msg != "" {
			problems = append(problems, msg)
		}
	}
	return problems
}

func listPackage(pat string) string {
	cmd := exec.Command("go", "list", "-e", "-f", "{{if .Error}}{{.Error}}{{end}}", pat)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	msg := strings.TrimSpace(string(out) + stderr.String())
	if err != nil || msg != "" {
		return fmt.Sprintf("package %s: %s", pat, firstLine(msg+" "+errString(err)))
	}
	return ""
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// checkCommand returns what is wrong with one go run or go test command.
func checkCommand(t *testing.T, c command, build, test map[string]bool) []string {
	var problems []string
	args := c.args[1:]
	switch c.args[0] {
	case "run":
		known := union(build, map[string]bool{"exec": true})
		unknown, i := splitGoArgs(args, known)
		for _, f := range unknown {
			problems = append(problems, "go run has no flag "+f)
		}
		if i >= len(args) {
			return append(problems, "go run names no package")
		}
		if bad := checkPackages(args[i : i+1]); bad != nil {
			return append(problems, bad...)
		}
		defined, err := programFlags(filepath.Join(root, filepath.FromSlash(args[i])))
		if err != nil {
			return append(problems, err.Error())
		}
		for _, a := range args[i+1:] {
			if a == "--" {
				break
			}
			if name := flagName(a); name != "" && !defined[name] {
				problems = append(problems, fmt.Sprintf("%s defines no flag -%s (it has: %s)", args[i], name, strings.Join(slices.Sorted(maps.Keys(defined)), ", ")))
			}
		}
	case "test":
		known := union(build, test)
		var pkgs []string
		for i := 0; i < len(args); i++ {
			a := args[i]
			if a == "-args" || a == "--args" {
				break
			}
			name := flagName(a)
			if name == "" {
				pkgs = append(pkgs, a)
				continue
			}
			takesValue, ok := known[name]
			if !ok {
				problems = append(problems, "go test has no flag "+a)
			}
			if takesValue && !strings.Contains(a, "=") {
				i++
			}
		}
		if len(pkgs) == 0 {
			pkgs = []string{"."}
		}
		problems = append(problems, checkPackages(pkgs)...)
	}
	return problems
}

func union(ms ...map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

// programFlags returns the flags the main package in dir defines, read from its
// non-test files: calls on the flag package (flag.String("name", …),
// flag.DurationVar(&v, "name", …)) and on any *flag.FlagSet made with
// flag.NewFlagSet in the same file. A flag whose name is not a string literal
// is an error, not a silent gap. A program that defines flags also takes -h.
func programFlags(dir string) (map[string]bool, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	// Which argument holds the name, by method.
	nameArg := map[string]int{
		"Bool": 0, "Int": 0, "Int64": 0, "Uint": 0, "Uint64": 0, "String": 0, "Float64": 0, "Duration": 0, "Func": 0, "BoolFunc": 0,
		"BoolVar": 1, "IntVar": 1, "Int64Var": 1, "UintVar": 1, "Uint64Var": 1, "StringVar": 1, "Float64Var": 1, "DurationVar": 1,
		"TextVar": 1, "Var": 1,
	}
	defined := map[string]bool{}
	var problems []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		if f.Name.Name != "main" {
			return nil, fmt.Errorf("%s is not a main package", dir)
		}
		flagPkg := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "flag" {
				flagPkg = "flag"
				if imp.Name != nil {
					flagPkg = imp.Name.Name
				}
			}
		}
		if flagPkg == "" {
			continue
		}
		sets := map[string]bool{flagPkg: true, flagPkg + ".CommandLine": true}
		ast.Inspect(f, func(n ast.Node) bool {
			if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == 1 && len(as.Rhs) == 1 && isCall(as.Rhs[0], flagPkg, "NewFlagSet") {
				sets[exprName(as.Lhs[0])] = true
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !sets[exprName(sel.X)] {
				return true
			}
			i, ok := nameArg[sel.Sel.Name]
			if !ok || len(call.Args) <= i {
				return true
			}
			lit, ok := call.Args[i].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				problems = append(problems, fmt.Sprintf("%s: the flag's name is not a string literal, so the docs test can't read it", fset.Position(call.Pos())))
				return true
			}
			name, _ := strconv.Unquote(lit.Value)
			defined[name] = true
			return true
		})
	}
	if problems != nil {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	if len(defined) > 0 {
		defined["h"], defined["help"] = true, true
	}
	return defined, nil
}

// exprName names an identifier or selector expression ("fs", "flag.CommandLine").
func exprName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		if x := exprName(e.X); x != "" {
			return x + "." + e.Sel.Name
		}
	}
	return ""
}

func isCall(e ast.Expr, pkg, fn string) bool {
	c, ok := e.(*ast.CallExpr)
	return ok && exprName(c.Fun) == pkg+"."+fn
}

// Every go run and go test in a runnable block names packages that exist and
// flags that the go command, or the program run, defines.
func TestCommands(t *testing.T) {
	build, test := goFlags(t, "build"), goFlags(t, "testflag", "test")
	cmds := runnable(t)
	if len(cmds) < 5 {
		t.Fatalf("found only %d go run/go test commands in ```%s blocks: is the parser reading the blocks?", len(cmds), RunnableInfo)
	}
	t.Logf("%d go run/go test commands in ```%s blocks", len(cmds), RunnableInfo)
	for _, c := range cmds {
		for _, p := range checkCommand(t, c, build, test) {
			t.Errorf("%s:%d: go %s: %s", c.page, c.line, strings.Join(c.args, " "), p)
		}
	}
}

// The command check can fail: each kind of broken command is reported.
func TestCommandsCanFail(t *testing.T) {
	build, test := goFlags(t, "build"), goFlags(t, "testflag", "test")
	for _, args := range [][]string{
		{"run", "./infra/nowhere"},
		{"run", "./infra/verify", "--wiat", "15m"},
		{"run", "./service", "-port", "8080"},
		{"run", "-tgas", "x", "./service"},
		{"test", "./infra/nowhere/..."},
		{"test", "-rnu", "X", "./infra/config"},
		{"test", "./...", "-benchtime", "2s", "./no/such"},
	} {
		if p := checkCommand(t, command{args: args}, build, test); len(p) == 0 {
			t.Errorf("go %s passed", strings.Join(args, " "))
		}
	}
	for _, args := range [][]string{
		{"run", "./infra/verify", "-f", "outputs.json", "--wait=15m", "--json"},
		{"run", "-tags", "noembedded", "./service", "healthcheck"},
		{"test", "-run", "^$", "-bench", ".", "-count", "5", "./infra/verify/..."},
		{"test", "-v", "./infra/config", "-args", "-anything"},
	} {
		if p := checkCommand(t, command{args: args}, build, test); len(p) > 0 {
			t.Errorf("go %s: %v", strings.Join(args, " "), p)
		}
	}
}
