package web

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
)

// The cache remembers at most max keys, however many are asked for (every
// search query is a key), and each get is answered by a read that started
// after it: two gets one after the other read twice.
func TestFreshCacheBoundsKeysAndRereads(t *testing.T) {
	c := newFreshCache[int](8)
	var reads atomic.Int64
	load := func(context.Context, int) (int, error) { return int(reads.Add(1)), nil }
	for i := range 100 {
		if _, err := c.get(t.Context(), strconv.Itoa(i), load); err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		n := len(c.entries)
		c.mu.Unlock()
		if n > 8 {
			t.Fatalf("%d keys remembered, want at most 8", n)
		}
	}
	a, _ := c.get(t.Context(), "same", load)
	b, _ := c.get(t.Context(), "same", load)
	if b <= a {
		t.Fatalf("the second get returned read %d, not a read after the first (%d)", b, a)
	}
}
