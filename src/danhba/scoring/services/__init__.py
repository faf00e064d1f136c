"""Writes of the scoring app, by topic: ``compute`` (scores of contacts), ``dirty`` (which
contacts to compute again, and the worker's claim on them), ``models`` (models and rules,
their full recompute)."""
