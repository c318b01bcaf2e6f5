INSERT INTO {schema}.conveyor_metrics_snapshot (name, taken_at, body)
VALUES (%(name)s, extract(epoch FROM now())::float8, %(body)s)
ON CONFLICT (name) DO UPDATE SET taken_at = excluded.taken_at, body = excluded.body
