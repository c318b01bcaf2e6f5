INSERT INTO conveyor_workers (id, hostname, pid, queues, names, started_at, last_seen)
VALUES (:id, :hostname, :pid, :queues, :names, :now, :now)
ON CONFLICT (id) DO UPDATE SET
    hostname = excluded.hostname,
    pid = excluded.pid,
    queues = excluded.queues,
    names = excluded.names,
    last_seen = excluded.last_seen
