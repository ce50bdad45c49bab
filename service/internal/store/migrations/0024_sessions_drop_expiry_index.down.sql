CREATE INDEX sessions_expiry_idx ON sessions (expiry)
