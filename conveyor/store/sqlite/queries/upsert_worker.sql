INSERT INTO conveyor_workers (id, hostname, pid, queues, names, started_at, last_seen, slots, busy)
VALUES (:id, :hostname, :pid, :queues, :names, :now, :now, :slots, :busy)
ON CONFLICT (id) DO UPDATE SET
    hostname = excluded.hostname,
    pid = excluded.pid,
    queues = excluded.queues,
    names = excluded.names,
    last_seen = excluded.last_seen,
    slots = excluded.slots,
    busy = excluded.busy
