CREATE FULLTEXT INDEX books_search ON books (title, author)
