-- A part of a fan-out is written only while its expander job still runs under the attempt's
-- token (run_plans.expand_stage): the fence of every part but the last, which completes it.
SELECT 1 FROM conveyor_jobs WHERE id = :job_id AND state = 'running' AND token = :token
