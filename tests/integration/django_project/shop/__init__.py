"""The test project's one app: an orders table and the job that sends a receipt."""
