-- The hourly usage roll-up past Retention.usage (a few rows per hour: no batch limit needed).
WITH units AS (
    DELETE FROM {schema}.conveyor_usage_hourly_units
    WHERE hour < extract(epoch FROM now()) - %(keep)s::float8
)
DELETE FROM {schema}.conveyor_usage_hourly
WHERE hour < extract(epoch FROM now()) - %(keep)s::float8
