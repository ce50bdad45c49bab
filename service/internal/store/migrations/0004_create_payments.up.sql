CREATE TABLE payments (
    id           BIGINT      NOT NULL AUTO_INCREMENT,
    purchase_id  BIGINT      NOT NULL,
    amount_cents BIGINT      NOT NULL,
    method       VARCHAR(20) NOT NULL,
    created_at   DATETIME    NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY payments_purchase (purchase_id),
    CONSTRAINT payments_purchase_fk FOREIGN KEY (purchase_id) REFERENCES purchases (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
