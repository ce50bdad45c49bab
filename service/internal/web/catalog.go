package web

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// freshCache answers many concurrent requests for the same thing (a catalog
// page, a book) with one database read, without ever answering with data
// older than the request.
//
// A request is answered only with the result of a read that *started after
// the request arrived*. Reads are coalesced per key: at most one is in
// flight, and every request that arrives meanwhile waits for the next one,
// which starts when the current one ends (and at least minGap after it
// started). Under load one read answers many requests; alone, a request
// costs one read, as without a cache. Nothing is written to the database
// to keep it fresh: a purchase on any instance shows in the next request
// to every instance, because that request waits for a read that began
// after it.
//
// What is kept between reads is only the last result per key, so that the
// loader can reuse its rendering when the data did not change.
type freshCache[T any] struct {
	minGap time.Duration
	max    int // keys kept; beyond, idle keys are dropped

	mu      sync.Mutex
	entries map[string]*freshEntry[T]
}

type freshEntry[T any] struct {
	load    func(ctx context.Context, prev T) (T, error)
	running *freshRead[T] // in flight
	next    *freshRead[T] // starts when running ends; joined by later arrivals
	last    atomic.Pointer[T]
}

type freshRead[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// defaultMinGap caps reads at 1000/s per key and instance; it adds at most
// 1 ms to a request.
const defaultMinGap = time.Millisecond

// newFreshCache returns a cache that remembers at most max keys: search
// queries and deep pages are many, and a catalog page kept with its
// rendering and gzipped copy costs about 20 KB (512 pages: about 10 MB).
func newFreshCache[T any](max int) *freshCache[T] {
	return &freshCache[T]{minGap: defaultMinGap, max: max, entries: map[string]*freshEntry[T]{}}
}

// get returns key's value as read by load after the call began, or load's
// error, or ctx's. load gets the previous value (the zero T at first) and
// the read's own context (not the request's: one request going away must
// not fail the others waiting on the same read); key must determine what
// load reads.
func (c *freshCache[T]) get(ctx context.Context, key string, load func(ctx context.Context, prev T) (T, error)) (T, error) {
	r := c.join(key, load)
	select {
	case <-r.done:
		return r.val, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// join returns a read of key that starts no earlier than now.
func (c *freshCache[T]) join(key string, load func(ctx context.Context, prev T) (T, error)) *freshRead[T] {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil {
		if len(c.entries) >= c.max {
			for k, old := range c.entries {
				if old.running == nil {
					delete(c.entries, k)
				}
			}
		}
		e = &freshEntry[T]{load: load}
		c.entries[key] = e
	}
	if e.running == nil {
		e.running = &freshRead[T]{done: make(chan struct{})}
		go c.readLoop(e, e.running)
		return e.running
	}
	if e.next == nil {
		e.next = &freshRead[T]{done: make(chan struct{})}
	}
	return e.next
}

// readLoop runs r, then each read queued behind it, until none is.
func (c *freshCache[T]) readLoop(e *freshEntry[T], r *freshRead[T]) {
	for r != nil {
		started := time.Now()
		var prev T
		if p := e.last.Load(); p != nil {
			prev = *p
		}
		r.val, r.err = e.load(context.Background(), prev)
		if r.err == nil {
			v := r.val
			e.last.Store(&v)
		}
		close(r.done)
		c.mu.Lock()
		queued := e.next != nil
		c.mu.Unlock()
		if queued {
			time.Sleep(c.minGap - time.Since(started))
		}
		c.mu.Lock()
		e.running, e.next = e.next, nil
		r = e.running
		c.mu.Unlock()
	}
}
