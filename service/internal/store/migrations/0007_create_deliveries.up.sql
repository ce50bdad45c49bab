CREATE TABLE deliveries (
    id          BIGINT   NOT NULL AUTO_INCREMENT,
    purchase_id BIGINT   NOT NULL,
    provider_id BIGINT   NOT NULL,
    cost_cents  BIGINT   NOT NULL,
    created_at  DATETIME NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY deliveries_purchase (purchase_id),
    KEY deliveries_provider (provider_id),
    CONSTRAINT deliveries_purchase_fk FOREIGN KEY (purchase_id) REFERENCES purchases (id),
    CONSTRAINT deliveries_provider_fk FOREIGN KEY (provider_id) REFERENCES delivery_providers (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
