INSERT INTO conveyor_metrics_snapshot (name, taken_at, body) VALUES (:name, :now, :body)
ON CONFLICT (name) DO UPDATE SET taken_at = excluded.taken_at, body = excluded.body
