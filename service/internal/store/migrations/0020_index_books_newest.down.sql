DROP INDEX books_catalog_newest ON books
