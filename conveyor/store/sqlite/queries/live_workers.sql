SELECT id, hostname, pid, queues, names, started_at, last_seen, slots, busy
FROM conveyor_workers
WHERE last_seen >= :since
ORDER BY started_at, id
