"""Models of the quality app, one module per topic (duplicates, merges, freshness, cleaning),
each imported here."""
