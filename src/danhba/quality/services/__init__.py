"""Writes of the quality app, one module per topic (duplicates, merge, decay)."""
