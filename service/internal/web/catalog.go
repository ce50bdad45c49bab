package web

import (
	"bytes"
	"context"
	"html/template"

	"github.com/bookstore-aws/bookstore/service/internal/store"
)

// catalogCache renders the catalog's book list. (First version: no cache,
// to measure.)
type catalogCache struct {
	store  *store.Store
	render func([]store.Book) (template.HTML, error)
}

func newCatalogCache(s *store.Store, render func([]store.Book) (template.HTML, error)) *catalogCache {
	return &catalogCache{store: s, render: render}
}

func (c *catalogCache) get(ctx context.Context) (template.HTML, error) {
	books, err := c.store.Catalog(ctx)
	if err != nil {
		return "", err
	}
	return c.render(books)
}

func (a *App) renderCatalog(books []store.Book) (template.HTML, error) {
	var buf bytes.Buffer
	if err := a.fragments.ExecuteTemplate(&buf, "catalog-books", books); err != nil {
		return "", err
	}
	return template.HTML(buf.String()), nil
}
