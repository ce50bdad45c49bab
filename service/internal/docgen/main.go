// Command docgen rewrites the environment table of docs/service.md from
// service/internal/config's Vars. `go generate ./...` runs it (the directive is
// in service/internal/config/envdoc); envdoc's test fails when the page differs
// from what it writes.
package main

import (
	"fmt"
	"os"

	"github.com/bookstore-aws/bookstore/internal/doctable"
	"github.com/bookstore-aws/bookstore/service/internal/config/envdoc"
)

func main() {
	if err := doctable.Write(envdoc.Page, envdoc.TableName, envdoc.Table()); err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
}
