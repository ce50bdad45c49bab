CREATE TABLE purchases (
    id               BIGINT      NOT NULL AUTO_INCREMENT,
    buyer_id         BIGINT      NOT NULL,
    book_id          BIGINT      NOT NULL,
    quantity         INT         NOT NULL,
    unit_price_cents BIGINT      NOT NULL,
    total_cents      BIGINT      NOT NULL,
    status           VARCHAR(20) NOT NULL,
    created_at       DATETIME    NOT NULL,
    PRIMARY KEY (id),
    KEY purchases_buyer (buyer_id),
    KEY purchases_book (book_id),
    CONSTRAINT purchases_buyer_fk FOREIGN KEY (buyer_id) REFERENCES users (id),
    CONSTRAINT purchases_book_fk FOREIGN KEY (book_id) REFERENCES books (id),
    CONSTRAINT purchases_quantity_positive CHECK (quantity > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
