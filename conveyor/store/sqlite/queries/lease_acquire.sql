-- One statement decides: a free name is taken, an expired lease changes hands, and the
-- holder extends its own. While another holder's lease runs, the update's WHERE is false
-- and RETURNING gives no row.
INSERT INTO conveyor_leases (name, holder, expires_at)
VALUES (:name, :holder, :now + :seconds)
ON CONFLICT (name) DO UPDATE SET
    holder = excluded.holder,
    expires_at = excluded.expires_at
WHERE conveyor_leases.holder = excluded.holder OR conveyor_leases.expires_at <= :now
RETURNING holder
