"""Models of the quality app, one module per topic (duplicates, merges, freshness, cleaning),
each imported here."""

from danhba.quality.models.merges import Merge, MergedContact, MergeSettings, Rule

__all__ = ["Merge", "MergeSettings", "MergedContact", "Rule"]
