package web

import (
	"bytes"
	"context"
	"html/template"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bookstore-aws/bookstore/service/internal/store"
)

// catalogCache serves the catalog's rendered book list without querying and
// rendering 100 books per request, and without ever showing stock older than
// the request.
//
// Every change to what the catalog shows bumps store.CatalogVersion in the
// same transaction (one row, so every instance sharing the database sees
// it). A request is answered only after a version read that *started after
// the request arrived*: if that version is the cached one, the cached HTML
// is current as of the request's arrival; if not, the list is reloaded.
// Version reads are coalesced: at most one is in flight per instance, and
// every request that arrives meanwhile waits for the next one, which starts
// when the current one ends (and at least minGap after it started). Under
// load one read answers many requests; alone, a request costs one
// primary-key read instead of a 100-row query and its rendering.
type catalogCache struct {
	store  *store.Store
	render func([]store.Book) (template.HTML, error)
	minGap time.Duration

	mu      sync.Mutex
	running *versionRead // in flight
	next    *versionRead // starts when running ends; joined by later arrivals

	snap atomic.Pointer[catalogSnapshot]
	load sync.Mutex // one reload at a time
}

type versionRead struct {
	done    chan struct{}
	version int64
	err     error
}

type catalogSnapshot struct {
	version int64 // the list shows the catalog at this version or later
	html    template.HTML
	// anonPage is the whole page as an anonymous visitor without a flash
	// message sees it, rendered on first use; anonGzip is it gzipped.
	anonPage, anonGzip atomic.Pointer[[]byte]
}

// defaultMinGap caps version reads at 1000/s per instance; it adds at most
// 1 ms to a request.
const defaultMinGap = time.Millisecond

func newCatalogCache(s *store.Store, render func([]store.Book) (template.HTML, error)) *catalogCache {
	return &catalogCache{store: s, render: render, minGap: defaultMinGap}
}

// get returns the book list as of a moment after the call began, or the
// store's error (ErrUnavailable when the database is down: never a stale
// list).
func (c *catalogCache) get(ctx context.Context) (*catalogSnapshot, error) {
	r := c.join()
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, r.err
	}
	if s := c.snap.Load(); s != nil && s.version >= r.version {
		return s, nil
	}
	c.load.Lock()
	defer c.load.Unlock()
	if s := c.snap.Load(); s != nil && s.version >= r.version {
		return s, nil // another request reloaded it meanwhile
	}
	// Read after the version: the list is at version r.version or later.
	books, err := c.store.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	html, err := c.render(books)
	if err != nil {
		return nil, err
	}
	s := &catalogSnapshot{version: r.version, html: html}
	c.snap.Store(s)
	return s, nil
}

// join returns a version read that starts no earlier than now.
func (c *catalogCache) join() *versionRead {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running == nil {
		c.running = &versionRead{done: make(chan struct{})}
		go c.readVersions(c.running)
		return c.running
	}
	if c.next == nil {
		c.next = &versionRead{done: make(chan struct{})}
	}
	return c.next
}

// readVersions runs r, then each read queued behind it, until none is.
func (c *catalogCache) readVersions(r *versionRead) {
	for r != nil {
		started := time.Now()
		r.version, r.err = c.store.CatalogVersion(context.Background())
		close(r.done)
		c.mu.Lock()
		queued := c.next != nil
		c.mu.Unlock()
		if queued {
			time.Sleep(c.minGap - time.Since(started))
		}
		c.mu.Lock()
		c.running, c.next = c.next, nil
		r = c.running
		c.mu.Unlock()
	}
}

func (a *App) renderCatalog(books []store.Book) (template.HTML, error) {
	var buf bytes.Buffer
	if err := a.fragments.ExecuteTemplate(&buf, "catalog-books", books); err != nil {
		return "", err
	}
	return template.HTML(buf.String()), nil
}
