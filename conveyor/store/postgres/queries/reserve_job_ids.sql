-- The COPY path's first statement (job_plans.insert_copied_jobs): the transaction's clock,
-- which every row's created_at, due time and state are computed from, and one id per job from
-- the table's identity, in order. COPY cannot return ids, so they are drawn here and written
-- with the rows (COPY writes given values into an identity column, as OVERRIDING SYSTEM VALUE
-- would). The NOTIFY goes here too: it is delivered at commit, once per distinct queue.
-- The sequence is looked up once (OFFSET 0 keeps the planner from folding the lookup into
-- the per-row nextval, where it cost the server 4 µs per id; decision 124).
SELECT now(),
       ARRAY(
           SELECT nextval(s.seq)
           FROM (
               SELECT pg_get_serial_sequence('{schema}.conveyor_jobs', 'id')::regclass AS seq
               OFFSET 0
           ) AS s,
           generate_series(1, %(n)s::int)
       ),
       (SELECT count(*) FROM (
            SELECT pg_notify(%(channel)s, q.queue)
            FROM unnest(%(queues)s::text[]) AS q(queue)
            WHERE %(notify)s
        ) AS woken)
