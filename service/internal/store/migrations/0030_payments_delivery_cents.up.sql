-- The delivery fee a payment included (amount_cents = the purchase's
-- total_cents + delivery_cents). NULL marks a payment made before delivery
-- was chosen and charged before paying: its delivery, if any, was never
-- charged, and the orders page says so.
ALTER TABLE payments ADD COLUMN delivery_cents BIGINT NULL
