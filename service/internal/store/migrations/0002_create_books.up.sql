CREATE TABLE books (
    id          BIGINT        NOT NULL AUTO_INCREMENT,
    seller_id   BIGINT        NOT NULL,
    title       VARCHAR(200)  NOT NULL,
    author      VARCHAR(200)  NOT NULL,
    description VARCHAR(2000) NOT NULL,
    price_cents BIGINT        NOT NULL,
    stock       INT           NOT NULL,
    cover       VARCHAR(100)  NULL,
    archived    BOOLEAN       NOT NULL DEFAULT FALSE,
    created_at  DATETIME      NOT NULL,
    PRIMARY KEY (id),
    KEY books_seller (seller_id),
    CONSTRAINT books_seller_fk FOREIGN KEY (seller_id) REFERENCES users (id),
    CONSTRAINT books_price_nonnegative CHECK (price_cents >= 0),
    CONSTRAINT books_stock_nonnegative CHECK (stock >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
