-- One statement writes or refuses: the job must run under the token, and what it stored plus
-- this chunk must fit. Only the attempt holding the token writes, so the next seq is free.
INSERT INTO conveyor_job_output (job_id, seq, attempt, at, size, chunk)
SELECT j.id, COALESCE(MAX(o.seq), 0) + 1, :attempt, :now, :size, :chunk
FROM conveyor_jobs AS j
LEFT JOIN conveyor_job_output AS o ON o.job_id = j.id
WHERE j.id = :job_id AND j.state = 'running' AND j.token = :token
GROUP BY j.id
HAVING COALESCE(SUM(o.size), 0) + :size <= :max
RETURNING seq
