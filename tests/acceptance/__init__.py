"""Acceptance tests: the `conveyor` command driven as a user would, in subprocesses."""
