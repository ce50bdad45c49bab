DROP INDEX books_catalog_price ON books
