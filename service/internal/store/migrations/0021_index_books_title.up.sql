CREATE INDEX books_catalog_title ON books (archived, title, id)
