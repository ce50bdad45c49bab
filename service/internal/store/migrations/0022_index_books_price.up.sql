CREATE INDEX books_catalog_price ON books (archived, price_cents, id)
