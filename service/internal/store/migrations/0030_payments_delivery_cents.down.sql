ALTER TABLE payments DROP COLUMN delivery_cents
