INSERT INTO delivery_providers (name, coverage, cost_cents) VALUES
    ('DHL', 'Internacional', 5000),
    ('FedEx', 'Internacional', 4500),
    ('Envia', 'Nacional', 2000),
    ('Servientrega', 'Nacional', 1500)
