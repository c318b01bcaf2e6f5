-- Each check-in's pings older than the cutoff, except its newest one: read along the
-- (name, at) index per check-in, so only prunable pings are visited (CROSS JOIN keeps the
-- check-ins as the outer loop, where the planner would otherwise scan every ping).
DELETE FROM conveyor_checkin_pings
WHERE rowid IN (
    SELECT p.rowid
    FROM conveyor_checkins AS c
    CROSS JOIN conveyor_checkin_pings AS p
    WHERE p.name = c.name AND p.at < MIN(
        :cutoff,
        (SELECT MAX(newest.at) FROM conveyor_checkin_pings AS newest WHERE newest.name = c.name)
    )
    LIMIT :limit
)
