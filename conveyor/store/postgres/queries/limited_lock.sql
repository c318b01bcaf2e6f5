-- The limited pass, step 2: one transaction-scoped advisory lock per limit key, in the order
-- of the lock ids (every claimer sorts the same way, so two never wait on each other in
-- opposite orders). Names carry a namespace prefix, so they never meet unique-key locks.
SELECT pg_advisory_xact_lock(h)::text
FROM (
    SELECT DISTINCT hashtextextended(k, 0) AS h
    FROM unnest(%(names)s::text[]) AS k
    ORDER BY h
) AS locks
