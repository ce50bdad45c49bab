package main

import (
	"testing"
)

func TestSmoke(t *testing.T) {
	s := mustRun(t, nil)
	t.Logf("%d resources, invokes %v", len(s.recs), s.invokes)
	for k, v := range s.outputs {
		t.Logf("%s = %v", k, v)
	}
}
