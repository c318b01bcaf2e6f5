"""The demo app run by ``conveyor demo``: a small, realistic workload with its failures."""
