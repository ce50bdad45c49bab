// Command docgen rewrites the two generated tables of docs/configuration.md: the
// stack configuration, from infra/config's Keys (which Pulumi.yaml must match,
// as infra/config's tests check), and the stack outputs, from the Outputs list in
// infra/main.go. `go generate ./...` runs it; infra/config's and infra's tests
// fail when the page differs from what it writes.
//
// infra is a main package and can't be imported, so Outputs is read from
// main.go's syntax tree: a composite literal of {"name", "value"} string pairs.
// infra's test renders the same table from the compiled list, so a misread fails.
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"

	"github.com/bookstore-aws/bookstore/infra/config"
	"github.com/bookstore-aws/bookstore/internal/doctable"
)

// OutputsTableName is the markers' name of the outputs table in config.DocPage.
const OutputsTableName = "outputs"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := doctable.Root()
	if err != nil {
		return err
	}
	outs, err := readOutputs(filepath.Join(root, "infra", "main.go"))
	if err != nil {
		return err
	}
	if err := doctable.Write(config.DocPage, config.DocTableName, config.DocTable()); err != nil {
		return err
	}
	return doctable.Write(config.DocPage, OutputsTableName, doctable.Definitions("output", "value", outs))
}

// readOutputs returns the {name, value} pairs of `var Outputs = []Output{…}` in
// the Go file at path. Anything but two string literals per element is an error
// naming its position, never a silently shorter table.
func readOutputs(path string) ([][2]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var lit *ast.CompositeLit
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == 1 && vs.Names[0].Name == "Outputs" && len(vs.Values) == 1 {
			lit, _ = vs.Values[0].(*ast.CompositeLit)
		}
		return lit == nil
	})
	if lit == nil {
		return nil, fmt.Errorf("%s: no `var Outputs = []Output{…}` literal", path)
	}
	var outs [][2]string
	for _, e := range lit.Elts {
		pair, ok := e.(*ast.CompositeLit)
		if !ok || len(pair.Elts) != 2 {
			return nil, fmt.Errorf("%s: an element of Outputs is not {\"name\", \"value\"}", fset.Position(e.Pos()))
		}
		var out [2]string
		for i, v := range pair.Elts {
			if kv, ok := v.(*ast.KeyValueExpr); ok {
				v = kv.Value
			}
			bl, ok := v.(*ast.BasicLit)
			if !ok || bl.Kind != token.STRING {
				return nil, fmt.Errorf("%s: write Outputs' names and values as string literals", fset.Position(v.Pos()))
			}
			if out[i], err = strconv.Unquote(bl.Value); err != nil {
				return nil, fmt.Errorf("%s: %w", fset.Position(v.Pos()), err)
			}
		}
		outs = append(outs, out)
	}
	return outs, nil
}
