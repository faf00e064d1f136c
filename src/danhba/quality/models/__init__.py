"""Models of the quality app, one module per topic (duplicates, merges, freshness, cleaning),
each imported here."""

from danhba.quality.models.duplicates import DuplicatePair, DuplicateRun, DuplicateSettings
from danhba.quality.models.merges import Merge, MergedContact, MergeSettings, Rule

__all__ = ["DuplicatePair", "DuplicateRun", "DuplicateSettings", "Merge", "MergeSettings", "MergedContact", "Rule"]
