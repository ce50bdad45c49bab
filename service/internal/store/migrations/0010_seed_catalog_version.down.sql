DELETE FROM catalog_version WHERE id = 1
