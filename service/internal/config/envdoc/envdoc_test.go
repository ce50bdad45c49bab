package envdoc

import (
	"testing"

	"github.com/bookstore-aws/bookstore/internal/doctable"
)

// docs/service.md's environment table is Table: every variable of config.Vars.
func TestEnvTableIsCurrent(t *testing.T) {
	if err := doctable.Check(Page, TableName, Table()); err != nil {
		t.Error(err)
	}
}
