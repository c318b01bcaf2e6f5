-- Starts of one rate key still inside their window, and the clock they were judged by.
SELECT extract(epoch FROM expires_at)::float8, rate_max
FROM {schema}.conveyor_rate_starts
WHERE key = %(key)s AND expires_at > clock_timestamp()
