DROP TABLE deliveries
