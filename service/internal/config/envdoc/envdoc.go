// Package envdoc renders docs/service.md's environment table from config.Vars.
// It is apart from package config so that the service, and its image, don't
// carry the docs tooling.
package envdoc

import (
	"github.com/bookstore-aws/bookstore/internal/doctable"
	"github.com/bookstore-aws/bookstore/service/internal/config"
)

//go:generate go run ../../docgen

// Page is the docs page that holds the environment table, and TableName its
// markers' name.
const (
	Page      = "docs/service.md"
	TableName = "env"
)

// Table is the environment table of Page, rendered from config.Vars;
// service/internal/docgen writes it into the page.
func Table() string {
	t := doctable.Table{Header: []string{"variable", "default", "meaning"}}
	for _, v := range config.Vars {
		def := v.Default
		if def == "" {
			def = "(unset)"
		}
		t.Rows = append(t.Rows, []string{doctable.Code(v.Name, ""), def, v.Meaning})
	}
	return t.Markdown()
}
