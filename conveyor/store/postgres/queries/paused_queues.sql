SELECT name FROM {schema}.conveyor_queues WHERE paused
