CREATE TABLE delivery_providers (
    id         BIGINT      NOT NULL AUTO_INCREMENT,
    name       VARCHAR(50) NOT NULL,
    coverage   VARCHAR(50) NOT NULL,
    cost_cents BIGINT      NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY delivery_providers_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
