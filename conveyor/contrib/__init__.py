"""Integrations with web frameworks (``conveyor.contrib.django``)."""
