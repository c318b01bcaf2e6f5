-- Record one start per claimed rate-limited job: :starts is a JSON array of
-- [key, expires_at, rate_max].
INSERT INTO conveyor_rate_starts (key, started_at, expires_at, rate_max)
SELECT json_extract(s.value, '$[0]'), :now, json_extract(s.value, '$[1]'),
       json_extract(s.value, '$[2]')
FROM json_each(:starts) AS s
