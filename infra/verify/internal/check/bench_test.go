package check_test

import (
	"context"
	"testing"

	"github.com/bookstore-aws/bookstore/infra/verify/internal/check"
	vt "github.com/bookstore-aws/bookstore/infra/verify/internal/verifytest"
)

// BenchmarkRun is one full run of the 28 checks against the loopback world:
// 55 DNS queries, 12 TLS handshakes and 12 HTTP requests. Real runs
// are bound by network round trips; this measures the verifier's own cost.
func BenchmarkRun(b *testing.B) {
	w := vt.NewWorld(b)
	out := w.Outputs(b)
	opts := w.Options()
	b.ReportAllocs()
	for b.Loop() {
		rep, err := check.Run(context.Background(), out, opts)
		if err != nil || rep.Status != check.Pass {
			b.Fatalf("status %s, err %v", rep.Status, err)
		}
	}
}
