SELECT pg_notify(%(channel)s, q) FROM unnest(%(queues)s::text[]) AS q
