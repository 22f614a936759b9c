"""Where the dataflow writes: Redis (incident state, alert stream, sensor history) and Kafka
(alerts, dead letters). Each sink documents its delivery guarantee."""
