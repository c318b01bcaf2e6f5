-- One statement decides: a free name is taken, an expired lease changes hands, and the
-- holder extends its own. While another holder's lease runs, the update's WHERE is false
-- and RETURNING gives no row. Two racing acquirers meet on the row lock: the second
-- re-checks the WHERE against the first one's committed row.
INSERT INTO {schema}.conveyor_leases AS l (name, holder, expires_at)
VALUES (%(name)s, %(holder)s, now() + make_interval(secs => %(seconds)s))
ON CONFLICT (name) DO UPDATE SET
    holder = EXCLUDED.holder,
    expires_at = EXCLUDED.expires_at
WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now()
RETURNING l.holder
