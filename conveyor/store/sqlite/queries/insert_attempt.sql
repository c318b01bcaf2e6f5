INSERT INTO conveyor_attempts (
    job_id, attempt, token, worker_id, started_at, finished_at, outcome,
    error_type, error_message, traceback
) VALUES (
    :job_id, :attempt, :token, :worker_id, :started_at, :now, :outcome,
    :error_type, :error_message, :traceback
)
