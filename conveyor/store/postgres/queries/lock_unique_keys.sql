-- One transaction-scoped advisory lock per unique key, taken in the order given (the caller
-- sorts the keys, so two producers never wait on each other in opposite orders). A set-returning
-- scan of unnest evaluates the locks row by row, in array order. The isolation level comes back
-- too: the holders check that follows is only sound under READ COMMITTED or SERIALIZABLE.
SELECT current_setting('transaction_isolation'), pg_advisory_xact_lock(hashtextextended(k, 0))::text
FROM unnest(%(keys)s::text[]) AS k
