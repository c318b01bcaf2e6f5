-- Each check-in's pings older than the cutoff, except its newest one: read along the
-- (name, at) index per check-in, so only prunable pings are visited. Pings are never
-- updated, so their ctid stays put within the statement.
DELETE FROM {schema}.conveyor_checkin_pings
WHERE ctid = ANY(ARRAY(
    SELECT p.ctid
    FROM {schema}.conveyor_checkins AS c
    JOIN {schema}.conveyor_checkin_pings AS p ON p.name = c.name
    WHERE p.at < LEAST(
        now() - make_interval(secs => %(keep)s),
        (SELECT MAX(newest.at) FROM {schema}.conveyor_checkin_pings AS newest
         WHERE newest.name = c.name)
    )
    LIMIT %(limit)s
))
