INSERT INTO catalog_version (id, version) VALUES (1, 1)
