package config

import "github.com/bookstore-aws/bookstore/internal/doctable"

// DocPage is the docs page that holds the configuration table, and DocTableName
// its markers' name.
const (
	DocPage      = "docs/configuration.md"
	DocTableName = "config"
)

// DocTable is the configuration table of DocPage, rendered from Keys: every key
// in order with its type, default ("(none)" when empty) and description.
// infra/internal/docgen writes it into the page (`go generate ./...`).
func DocTable() string {
	t := doctable.Table{Header: []string{"key", "type", "default", "meaning"}}
	for _, k := range Keys {
		t.Rows = append(t.Rows, []string{doctable.Code(k.Name, ""), k.Type, doctable.Code(k.Default, "(none)"), k.Description})
	}
	return t.Markdown()
}
