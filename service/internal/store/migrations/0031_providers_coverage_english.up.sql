-- The original's seed data was Spanish; the pages are English. The
-- providers' names stay as they are.
UPDATE delivery_providers SET coverage = CASE coverage WHEN 'Internacional' THEN 'International' ELSE 'Domestic' END
WHERE coverage IN ('Internacional', 'Nacional')
