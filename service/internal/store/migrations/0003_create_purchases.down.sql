DROP TABLE purchases
