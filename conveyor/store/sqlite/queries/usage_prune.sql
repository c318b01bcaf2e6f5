-- The hourly usage roll-up past Retention.usage (a few rows per hour: no batch limit needed).
DELETE FROM conveyor_usage_hourly WHERE hour < :cutoff
