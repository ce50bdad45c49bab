DROP INDEX books_catalog_title ON books
