"""Integrations with other frameworks: :mod:`conveyor.contrib.django`."""
