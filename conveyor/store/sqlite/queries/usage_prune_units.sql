-- See usage_prune.sql.
DELETE FROM conveyor_usage_hourly_units WHERE hour < :cutoff
