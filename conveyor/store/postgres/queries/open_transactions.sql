-- Other sessions' transactions in this database that began more than %(older_than)s seconds
-- ago: while one is open, vacuum keeps every row version it might still read.
SELECT pid,
       extract(epoch FROM now() - xact_start)::float8 AS age,
       state,
       usename,
       application_name,
       left(query, 200)
FROM pg_stat_activity
WHERE datname = current_database()
  AND pid <> pg_backend_pid()
  AND xact_start IS NOT NULL
  AND xact_start < now() - make_interval(secs => %(older_than)s)
ORDER BY xact_start
LIMIT %(limit)s
