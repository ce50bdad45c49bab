UPDATE delivery_providers SET coverage = CASE coverage WHEN 'International' THEN 'Internacional' ELSE 'Nacional' END
WHERE coverage IN ('International', 'Domestic')
