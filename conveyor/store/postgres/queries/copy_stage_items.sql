-- A fan-out part's item rows (copy_items.py): COPY's text format, tab-separated, in this order.
COPY {schema}.conveyor_stage_items (stage_run_id, item, job_id, state, input) FROM STDIN
