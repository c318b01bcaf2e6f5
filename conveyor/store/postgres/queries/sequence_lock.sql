-- One transaction-scoped advisory lock per sequence key, in the order given (the caller sorts
-- them). The second key space (the 'sequence:' prefix) keeps them apart from unique keys'.
SELECT pg_advisory_xact_lock(hashtextextended('sequence:' || k, 0))::text
FROM unnest(%(keys)s::text[]) AS k
