DELETE FROM delivery_providers WHERE name IN ('DHL', 'FedEx', 'Envia', 'Servientrega')
