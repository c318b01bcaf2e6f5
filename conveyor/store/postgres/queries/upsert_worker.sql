INSERT INTO {schema}.conveyor_workers (id, hostname, pid, queues, names, started_at, last_seen,
                                       slots, busy)
VALUES (%(id)s, %(hostname)s, %(pid)s, %(queues)s::jsonb, %(names)s::jsonb, now(), now(),
        %(slots)s, %(busy)s)
ON CONFLICT (id) DO UPDATE SET
    hostname = excluded.hostname,
    pid = excluded.pid,
    queues = excluded.queues,
    names = excluded.names,
    last_seen = excluded.last_seen,
    slots = excluded.slots,
    busy = excluded.busy
