SELECT id, hostname, pid, queues::text, names::text, extract(epoch FROM started_at)::float8,
       extract(epoch FROM last_seen)::float8, slots, busy
FROM {schema}.conveyor_workers
WHERE last_seen >= now() - make_interval(secs => %(stale_after)s)
ORDER BY started_at, id
