"""Splink (DuckDB backend, in process) over many contacts: train the model, predict pairs.

No Django here: records come in as Arrow tables (``features.record`` rows, built in chunks by
the caller), the model goes out as Splink's JSON (stored in ``DuplicateModel.params``), pairs go
out as tuples. The same model runs on Splink's Spark backend when one machine is outgrown
(``docs/decisions`` on duplicates says how).
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from danhba.quality.comparisons import BLOCKING_KEY_MAX, BLOCKING_KEYS, BLOCKING_RULES, COMPARISONS, Comparison
from danhba.quality.features import COLUMNS

Progress = Callable[[float, str], None]

# Rules that almost never join two different people: how often two random contacts match is
# estimated from the pairs they find (recall below: they miss the duplicates with typos). Each
# rule is the columns that must be equal.
DETERMINISTIC_RULES: tuple[tuple[str, ...], ...] = (("phone", "name"), ("email",))
# Contacts with no phone or email to agree on (an old list, a fair's sign-up sheet): the same
# name and birthday instead.
DETERMINISTIC_FALLBACK: tuple[tuple[str, ...], ...] = (("name", "birthday"),)
DETERMINISTIC_RECALL = 0.6
# EM sessions: each one blocks on a field and estimates the m values of the others. Blocks
# on identifiers, not names: fields made from the name (email local parts) agree among
# namesakes, and EM would learn that as evidence. Without enough phones or emails in common,
# the sessions block on the name's words and on the birthday (each session then estimates the
# other); a block bigger than ``EM_MAX_PAIRS`` is not used (a million contacts' common names).
EM_BLOCKS: tuple[tuple[str, ...], ...] = (("phone",), ("email",))
EM_FALLBACK: tuple[tuple[str, ...], ...] = (("name_sorted",), ("birthday",))
EM_MIN_PAIRS = 50
EM_MAX_PAIRS = 5_000_000
U_MAX_PAIRS = 5e6
SEED = 1616
NOT_OBSERVED = 1e-6


@dataclass(frozen=True)
class ScoredPair:
    id_l: int
    id_r: int
    match_weight: float
    match_probability: float
    # Comparison name → level index (Splink's gamma; -1 for the null level).
    levels: dict[str, int]


def _arrow_schema() -> Any:
    import pyarrow as pa

    return pa.schema([("unique_id", pa.int64()), *((c, pa.string()) for c in COLUMNS[1:])])


def arrow_table(records: Iterable[dict[str, object]]) -> Any:
    """An Arrow table of records (``features.record`` dicts)."""
    import pyarrow as pa

    rows = list(records)
    return pa.Table.from_pydict({c: [r[c] for r in rows] for c in COLUMNS}, schema=_arrow_schema())


def settings(*, threshold_rules: Iterable[str] = BLOCKING_RULES) -> dict[str, Any]:
    """The untrained model: comparisons and blocking rules, no m/u values yet."""
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "comparisons": [c.splink() for c in COMPARISONS],
        "blocking_rules_to_generate_predictions": list(threshold_rules),
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
        "max_iterations": 20,
        "em_convergence": 0.001,
    }


def default_memory_limit() -> str:
    """DuckDB's memory for a run: half the machine's memory, at most 4 GB (it spills the rest
    to disk), so the worker stays within the 8 GiB target with Python beside it and a small
    machine is not pushed into swap."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "4GB"
    return f"{max(0.5, min(4.0, total / 2 / 1e9)):.1f}GB"


class TrainingFailed(Exception):
    """The contacts have too few pairs to learn from (say why; the stored model stays)."""


def rule_sql(columns: tuple[str, ...]) -> str:
    """Splink's SQL for "these columns are equal"."""
    return " AND ".join(f'l."{c}" = r."{c}"' for c in columns)


class Engine:
    """One DuckDB database holding the records of one run; spilling to a temporary directory
    keeps a million contacts inside the memory limit."""

    def __init__(self, *, memory_limit: str | None = None, threads: int | None = None) -> None:
        import duckdb

        memory_limit = memory_limit or default_memory_limit()

        self._tmp = tempfile.TemporaryDirectory(prefix="danhba-dedupe-")
        self.con = duckdb.connect(":memory:")
        self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.con.execute(f"SET temp_directory = '{self._tmp.name}'")
        self.con.execute("SET preserve_insertion_order = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self.con.execute(
            "CREATE TABLE contacts (unique_id BIGINT, " + ", ".join(f'"{c}" VARCHAR' for c in COLUMNS[1:]) + ")"
        )
        self.count = 0
        self._keyed = False
        # The rules the last ``train`` used (the benchmark reports them).
        self.training_rules: dict[str, list[str]] = {}

    def add(self, table: Any) -> None:
        """Append an Arrow table of records (``arrow_table``)."""
        self.con.register("_chunk", table)
        self.con.execute("INSERT INTO contacts SELECT * FROM _chunk")
        self.con.unregister("_chunk")
        self.count += table.num_rows
        self._keyed = False

    def _keys(self) -> None:
        """The table Splink reads: the records with their blocking keys (``BLOCKING_KEYS``), a
        key shared by more than ``BLOCKING_KEY_MAX`` records left NULL."""
        if self._keyed:
            return
        made = ", ".join(f'{expr} AS "{key}"' for key, expr in BLOCKING_KEYS.items())
        capped = ", ".join(
            f'CASE WHEN count(*) OVER (PARTITION BY "{key}") <= {BLOCKING_KEY_MAX} THEN "{key}" END AS "{key}"'
            for key in BLOCKING_KEYS
        )
        self.con.execute(
            f"CREATE OR REPLACE TABLE contacts_keyed AS WITH k AS (SELECT *, {made} FROM contacts) "  # noqa: S608
            f"SELECT * REPLACE ({capped}) FROM k"
        )
        self._keyed = True

    def pairs_sharing(self, columns: tuple[str, ...]) -> int:
        """How many pairs of records have equal (non-empty) values in all ``columns``."""
        self._keys()
        cols = ", ".join(f'"{c}"' for c in columns)
        present = " AND ".join(f'"{c}" IS NOT NULL' for c in columns)
        rows = self.con.execute(
            f"SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM "  # noqa: S608
            f"(SELECT count(*) AS n FROM contacts_keyed WHERE {present} GROUP BY {cols})"
        ).fetchall()
        return int(rows[0][0])

    def blocking_counts(self) -> dict[str, int]:
        """Pairs each blocking rule joins (a pair several rules join counts once per rule: the
        sum is an upper bound on the pairs the batch run scores)."""
        equal = re.compile(r'l\."(\w+)" = r\."\1"')
        return {rule: self.pairs_sharing(tuple(equal.findall(rule))) for rule in BLOCKING_RULES}

    def _training_rules(self) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
        """The deterministic rules (for the prior) and the EM blocks these records can train on."""
        prior = [r for r in DETERMINISTIC_RULES if self.pairs_sharing(r) > 0]
        if sum(self.pairs_sharing(r) for r in prior) < EM_MIN_PAIRS:
            prior += [r for r in DETERMINISTIC_FALLBACK if self.pairs_sharing(r) > 0]
        blocks = [b for b in EM_BLOCKS if self.pairs_sharing(b) >= EM_MIN_PAIRS]
        if len(blocks) < len(EM_BLOCKS):
            usable = [b for b in EM_FALLBACK if EM_MIN_PAIRS <= self.pairs_sharing(b) <= EM_MAX_PAIRS]
            blocks += usable[: len(EM_BLOCKS) - len(blocks)]
        if not prior or len(blocks) < 2:
            raise TrainingFailed(
                f"too few pairs to train on: {EM_MIN_PAIRS} pairs sharing a phone, an email, the name's words"
                " or a birthday are needed in two of these"
            )
        return prior, blocks

    def close(self) -> None:
        self.con.close()
        self._tmp.cleanup()

    def _linker(self, model: dict[str, Any]) -> Any:
        from splink import DuckDBAPI, Linker

        self._keys()
        db_api = DuckDBAPI(self.con)
        frame = db_api.register("contacts_keyed", table_name="contacts_input")
        return Linker(frame, model, log_level=logging.WARNING)

    def train(self, progress: Progress | None = None) -> dict[str, Any]:
        """Train a model on these records: the prior from deterministic rules, u by random
        sampling, m by expectation maximisation (one session per block in ``EM_BLOCKS``)."""
        say = progress or (lambda _f, _m: None)
        prior, blocks = self._training_rules()
        self.training_rules = {"prior": [rule_sql(r) for r in prior], "em": [rule_sql(b) for b in blocks]}
        linker = self._linker(settings())
        say(0.05, "prior")
        linker.training.estimate_probability_two_random_records_match(
            self.training_rules["prior"], recall=DETERMINISTIC_RECALL
        )
        say(0.2, "u")
        linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=SEED)
        for index, block in enumerate(self.training_rules["em"]):
            say(0.4 + 0.5 * index / len(blocks), f"em:{index + 1}")
            linker.training.estimate_parameters_using_expectation_maximisation(block, max_pairs=2e6)
        say(0.95, "saving")
        return neutral_untrained(dict(linker.misc.save_model_to_json()))

    def predict(self, model: dict[str, Any], *, threshold: float) -> Iterator[ScoredPair]:
        """Every blocked pair scored by ``model`` at or above ``threshold`` (a probability). The
        pairs are those of today's blocking rules, whatever rules a stored model was trained
        with; a comparison the stored model lacks (trained before it was added) counts as
        missing (weight 0), as in the real-time check."""
        linker = self._linker(
            {**model, "retain_matching_columns": True, "blocking_rules_to_generate_predictions": list(BLOCKING_RULES)}
        )
        frame = linker.inference.predict(threshold_match_probability=threshold)
        columns = ["unique_id_l", "unique_id_r", "match_weight", "match_probability"]
        stored = {c.get("output_column_name") for c in model.get("comparisons", [])}
        compared = [c for c in COMPARISONS if c.name in stored]
        gammas = [f"gamma_{c.name}" for c in compared]
        relation = frame.as_duckdbpyrelation().select(*columns, *gammas)
        named = [(c, f"gamma_{c.name}") for c in COMPARISONS]
        for batch in relation.to_arrow_reader(10_000):
            values = batch.to_pydict()
            for i in range(batch.num_rows):
                a, b = int(values["unique_id_l"][i]), int(values["unique_id_r"][i])
                yield ScoredPair(
                    id_l=min(a, b),
                    id_r=max(a, b),
                    match_weight=float(values["match_weight"][i]),
                    match_probability=float(values["match_probability"][i]),
                    levels={c.name: level_index(c, int(values[g][i])) if c.name in stored else 0 for c, g in named},
                )


def level_index(comparison: Comparison, gamma: int) -> int:
    """The index in ``comparison.levels`` of Splink's gamma (-1 null, 0 the last level, counting
    up to the first)."""
    return 0 if gamma < 0 else len(comparison.levels) - 1 - gamma


def neutral_untrained(model: dict[str, Any]) -> dict[str, Any]:
    """Explicit m and u values everywhere, so Splink and the real-time scorer read the same
    numbers: a level training never saw at all says nothing (m = u, weight 0); a level seen
    only among matches or only among non-matches gets Splink's own value for "not observed"
    (1e-6) on the other side."""
    for comparison in model.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            m_known, u_known = isinstance(m, float | int), isinstance(u, float | int)
            if not m_known and not u_known:
                level["m_probability"] = level["u_probability"] = 0.5
            elif not m_known:
                level["m_probability"] = NOT_OBSERVED
            elif not u_known:
                level["u_probability"] = NOT_OBSERVED
    return model


def probability(weight: float) -> float:
    """Splink's match probability of a match weight (log2 of the odds)."""
    if weight > 60:
        return 1.0
    odds = math.pow(2.0, weight)
    return odds / (1.0 + odds)
