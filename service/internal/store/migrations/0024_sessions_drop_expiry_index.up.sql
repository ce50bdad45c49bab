DROP INDEX sessions_expiry_idx ON sessions
