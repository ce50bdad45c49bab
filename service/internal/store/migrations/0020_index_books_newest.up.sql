CREATE INDEX books_catalog_newest ON books (archived, id)
