DROP INDEX books_search ON books
