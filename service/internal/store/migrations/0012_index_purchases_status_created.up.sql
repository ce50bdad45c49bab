CREATE INDEX purchases_status_created ON purchases (status, created_at)
