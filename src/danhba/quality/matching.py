"""The stored model applied in Python: one pair scored without DuckDB, and the per-field
explanation of any pair's levels. Pure: the model is Splink's JSON as stored in
``DuplicateSettings.params``; records come from ``features.record``.

A pair's match weight is Splink's: log2 of the prior odds plus, for each field, log2(m/u) of the
level that held (0 for a missing value). ``tests/test_matching.py`` checks it gives Splink's
numbers for the same pairs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from danhba.quality.comparisons import COMPARISONS, Record

CLAMP = 1e-300  # Splink's M_U_CLAMP_MIN


@dataclass(frozen=True)
class Part:
    """One field's part in a pair's score."""

    field: str
    level: int
    label: str  # the level's label as stored in the model ("exact", "levenshtein <= 1"…)
    weight: float  # log2(m/u); 0 when a value is missing


@dataclass(frozen=True)
class Score:
    match_weight: float
    probability: float
    prior_weight: float
    parts: tuple[Part, ...]

    @property
    def levels(self) -> dict[str, int]:
        return {p.field: p.level for p in self.parts}


def prior_weight(model: Mapping[str, Any]) -> float:
    prior = float(model.get("probability_two_random_records_match") or 0.0001)
    return math.log2(prior / (1 - prior))


def probability(weight: float) -> float:
    if weight >= 0:
        return 1.0 / (1.0 + math.pow(2.0, -weight)) if weight < 1000 else 1.0
    return math.pow(2.0, weight) / (1.0 + math.pow(2.0, weight))


def _level_weight(level: Mapping[str, Any]) -> float:
    if level.get("is_null_level"):
        return 0.0
    m, u = level.get("m_probability"), level.get("u_probability")
    if not isinstance(m, float | int) or not isinstance(u, float | int):
        return 0.0
    return math.log2(max(float(m), CLAMP) / max(float(u), CLAMP))


def explain(model: Mapping[str, Any], levels: Mapping[str, int]) -> Score:
    """The score of a pair whose level per field is known (a stored pair): each field's part,
    the prior, the total."""
    stored = {c.get("output_column_name"): c for c in model.get("comparisons", [])}
    parts = []
    for comparison in COMPARISONS:
        index = int(levels.get(comparison.name, 0))
        stored_levels = stored.get(comparison.name, {}).get("comparison_levels", [])
        if not 0 <= index < len(comparison.levels):
            index = 0
        level = stored_levels[index] if index < len(stored_levels) else {"is_null_level": True}
        parts.append(Part(comparison.name, index, comparison.levels[index].label, _level_weight(level)))
    prior = prior_weight(model)
    total = prior + sum(p.weight for p in parts)
    return Score(match_weight=total, probability=probability(total), prior_weight=prior, parts=tuple(parts))


def score(model: Mapping[str, Any], left: Record, right: Record) -> Score:
    """Score two records with the stored model, as Splink would."""
    return explain(model, {c.name: c.level_of(left, right) for c in COMPARISONS})
