"""Models of the quality app, one module per topic (duplicates, merges, freshness, cleaning),
each imported here."""

from danhba.quality.models.cleaning import CleaningChange, CleaningJob, CleaningRun, ContactArchive
from danhba.quality.models.dashboard import QualitySnapshot
from danhba.quality.models.duplicates import DuplicatePair, DuplicateRun, DuplicateSettings
from danhba.quality.models.freshness import (
    DecaySignal,
    Freshness,
    FreshnessDirty,
    ImportSignal,
    MailDomain,
    QualityState,
)
from danhba.quality.models.merges import BulkMerge, Merge, MergedContact, MergeSettings, Rule

__all__ = [
    "BulkMerge",
    "CleaningChange",
    "CleaningJob",
    "CleaningRun",
    "ContactArchive",
    "DecaySignal",
    "DuplicatePair",
    "DuplicateRun",
    "DuplicateSettings",
    "Freshness",
    "FreshnessDirty",
    "ImportSignal",
    "MailDomain",
    "Merge",
    "MergeSettings",
    "MergedContact",
    "QualitySnapshot",
    "QualityState",
    "Rule",
]
