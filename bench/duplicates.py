"""Benchmark ``duplicates`` — issue 16: accuracy and scale of duplicate detection.

1. Generate ``--contacts`` Vietnamese people (``PeopleGenerator``, fixed seed) and, for 10% of
   them, one near copy (2% two), each copy changed the ways people's data drifts: the name typed
   without diacritics, given name first, a typo, the middle name left out; the phone typed in
   another format or with the old 11-digit prefix (normalised back by ``core.normalize``), one
   digit wrong, or missing; the email with a typo in the local part or the domain, at another
   provider, or missing; day and month of the birthday swapped; the province by its name before
   the 2025 mergers; fields left empty. Every value goes through danhba's normalisers, then
   ``quality.features.record``: the known true pairs are every two records of one person.
2. danhba: Splink on DuckDB in this process (``quality.linkage.Engine``): load (Arrow chunks),
   train (prior, u by random sampling, EM), predict at the review threshold. Wall and CPU
   seconds per phase, peak RSS of the process (DuckDB included).
3. Precision, recall and F1 at several thresholds against the true pairs.
4. Baseline in the same run: exact matching as other tools do it (same email, or same phone,
   or same folded name) — its precision, recall and F1.
5. The real-time check's Python scoring with the stored model, per new contact (its candidates
   by phone and name found in memory: the database lookups are not in this figure).

``python -m bench duplicates [--contacts N] [--million] [--save-model] [--out DIR]``
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

from bench import REPO_DIR, machine_info, percentiles, write_results

NAME = "duplicates"
SEED = 16
THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99)
MODEL_PATH = REPO_DIR / "src" / "danhba" / "quality" / "default_model.json"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench duplicates", description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000, help="people before copies (default 100,000)")
    parser.add_argument("--million", action="store_true", help="1,000,000 people")
    parser.add_argument("--save-model", action="store_true", help=f"store the trained model as {MODEL_PATH.name}")
    parser.add_argument("--out", help="directory for the results JSON (default bench/results)")
    return parser.parse_args(argv)


def _setup() -> None:
    sys.path.insert(0, str(REPO_DIR / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "danhba.settings")
    import django

    django.setup()


class Drift:
    """The ways a second record of one person differs from the first."""

    def __init__(self, rng: random.Random) -> None:
        from danhba.core.normalize import OLD_MOBILE_PREFIXES
        from danhba.core.vn import PROVINCES_BEFORE_2025

        self.rng = rng
        self.old_prefix = {new: old for old, new in OLD_MOBILE_PREFIXES.items()}
        self.old_names: dict[str, list[str]] = defaultdict(list)
        for _old, name, new in PROVINCES_BEFORE_2025:
            self.old_names[new].append(name)

    def typo(self, text: str) -> str:
        rng = self.rng
        if len(text) < 4:
            return text
        i = rng.randrange(1, len(text) - 2)
        kind = rng.random()
        if kind < 0.3:
            return text[:i] + text[i + 1 :]
        if kind < 0.6:
            return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        if kind < 0.8:
            return text[:i] + rng.choice("aeiounhgtc") + text[i + 1 :]
        return text[:i] + text[i] + text[i:]

    def name(self, full: str) -> str:
        from danhba.core.normalize import fold, name_case

        words = full.split()
        r = self.rng.random()
        if r < 0.25:
            return name_case(fold(full))
        if r < 0.40 and len(words) > 1:
            return " ".join(words[-1:] + words[:-1])
        if r < 0.55:
            return self.typo(full)
        if r < 0.65 and len(words) > 2:
            return f"{words[0]} {words[-1]}"
        if r < 0.70:
            return full.upper()
        return full

    def phone(self, e164: str) -> str:
        r = self.rng.random()
        national = "0" + e164[3:]
        if r < 0.25:
            return f"{national[:4]} {national[4:7]} {national[7:]}"
        if r < 0.40:
            return f"+84 {e164[3:6]}.{e164[6:9]}.{e164[9:]}"
        if r < 0.50 and national[:3] in self.old_prefix:
            return self.old_prefix[national[:3]] + national[3:]
        if r < 0.58:
            i = self.rng.randrange(4, len(national))
            return national[:i] + str((int(national[i]) + 1) % 10) + national[i + 1 :]
        if r < 0.70:
            return ""
        return national

    def email(self, email: str) -> str:
        local, _at, domain = email.partition("@")
        r = self.rng.random()
        if r < 0.15:
            return f"{self.typo(local)}@{domain}"
        if r < 0.30:
            return f"{local}@{self.typo(domain)}"
        if r < 0.38:
            return f"{local}@{self.rng.choice(('gmail.com', 'yahoo.com', 'outlook.com'))}"
        if r < 0.53:
            return ""
        if r < 0.60:
            return email.upper()
        return email

    def province(self, key: str) -> str:
        r = self.rng.random()
        if r < 0.2 and self.old_names.get(key):
            return self.rng.choice(self.old_names[key])
        if r < 0.3:
            return ""
        return key


def generate(people: int, seed: int = SEED) -> tuple[list[dict[str, object]], set[tuple[int, int]]]:
    """Records (``features.record``) and the true pairs."""
    from danhba.contacts.demo import PeopleGenerator
    from danhba.core.normalize import NormalizationError, normalize_email, normalize_phone
    from danhba.quality.features import ContactValues, record

    gen = PeopleGenerator(seed=seed, n_companies=max(150, people // 200))
    rng = random.Random(seed)
    drift = Drift(rng)

    def phone_of(raw: str) -> str:
        try:
            return normalize_phone(raw).e164 if raw else ""
        except NormalizationError:
            return ""

    def email_of(raw: str) -> str:
        try:
            return normalize_email(raw) if raw else ""
        except NormalizationError:
            return ""

    records: list[dict[str, object]] = []
    truth: set[tuple[int, int]] = set()
    next_id = 0
    for _ in range(people):
        p = gen.person()
        company = gen.companies[p.company].name if p.company is not None else ""
        email = p.emails[0] if p.emails else ""
        phone = p.phones[0].e164 if p.phones else ""
        ids = []
        next_id += 1
        ids.append(next_id)
        records.append(record(ContactValues(next_id, p.full_name, email, phone, p.birthday, p.province, company)))
        r = rng.random()
        copies = 2 if r < 0.02 else 1 if r < 0.12 else 0
        for _copy in range(copies):
            birthday = p.birthday
            if birthday and rng.random() < 0.1 and birthday.day <= 12:
                birthday = birthday.replace(month=birthday.day, day=birthday.month)
            elif birthday and rng.random() < 0.15:
                birthday = None
            next_id += 1
            ids.append(next_id)
            records.append(
                record(
                    ContactValues(
                        next_id,
                        drift.name(p.full_name),
                        email_of(drift.email(email)) if email else "",
                        phone_of(drift.phone(phone)) if phone else "",
                        birthday,
                        drift.province(p.province) if p.province else "",
                        company if rng.random() < 0.7 else "",
                    )
                )
            )
        truth.update(combinations(ids, 2))
    rng.shuffle(records)
    return records, truth


def scores(found: set[tuple[int, int]], truth: set[tuple[int, int]]) -> dict[str, float]:
    tp = len(found & truth)
    precision = tp / len(found) if found else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"pairs": len(found), "true_positives": tp, "precision": round(precision, 4),
            "recall": round(recall, 4), "f1": round(f1, 4)}  # fmt: skip


def exact_baseline(records: list[dict[str, object]]) -> set[tuple[int, int]]:
    """Pairs sharing an email, a phone or the folded name: exact-match dedupe."""
    groups: dict[tuple[str, object], list[int]] = defaultdict(list)
    for rec in records:
        for key in ("email", "phone", "name"):
            if rec[key]:
                groups[(key, rec[key])].append(int(rec["unique_id"]))  # type: ignore[call-overload]
    pairs: set[tuple[int, int]] = set()
    for ids in groups.values():
        if len(ids) <= 50:
            pairs.update((min(a, b), max(a, b)) for a, b in combinations(ids, 2))
    return pairs


def _chunks(records: list[dict[str, object]], size: int = 50_000) -> Iterator[list[dict[str, object]]]:
    for start in range(0, len(records), size):
        yield records[start : start + size]


def realtime_latency(model: dict[str, Any], records: list[dict[str, object]], samples: int = 2000) -> dict[str, Any]:
    """Score sampled records against their candidates (same phone or name), as the real-time
    check does after its database lookups."""
    from danhba.quality import matching

    by_key: dict[object, list[dict[str, object]]] = defaultdict(list)
    for rec in records:
        for key in ("phone", "name"):
            if rec[key]:
                by_key[(key, rec[key])].append(rec)
    rng = random.Random(SEED)
    timings = []
    candidates_seen = 0
    for rec in rng.sample(records, min(samples, len(records))):
        start = time.perf_counter()
        others = {id(o): o for key in ("phone", "name") if rec[key] for o in by_key[(key, rec[key])] if o is not rec}
        for other in list(others.values())[:200]:
            matching.score(model, rec, other)
        timings.append((time.perf_counter() - start) * 1000)
        candidates_seen += len(others)
    return {"per_contact_ms": percentiles(timings), "mean_candidates": round(candidates_seen / max(1, len(timings)), 2)}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    _setup()
    import json

    from danhba.quality import linkage

    people = 1_000_000 if args.million else args.contacts
    cpu0, wall0 = time.process_time(), time.perf_counter()
    records, truth = generate(people)
    generated = {"wall_s": round(time.perf_counter() - wall0, 1), "cpu_s": round(time.process_time() - cpu0, 1)}
    print(f"generated {len(records):,} records, {len(truth):,} true pairs in {generated['wall_s']} s", flush=True)

    phases: dict[str, dict[str, float]] = {}

    def phase(name: str, started: tuple[float, float]) -> None:
        phases[name] = {
            "wall_s": round(time.perf_counter() - started[1], 1),
            "cpu_s": round(time.process_time() - started[0], 1),
        }
        print(f"  {name}: {phases[name]['wall_s']} s wall, {phases[name]['cpu_s']} s CPU", flush=True)

    start_all = (time.process_time(), time.perf_counter())
    engine = linkage.Engine()
    t = (time.process_time(), time.perf_counter())
    for chunk in _chunks(records):
        engine.add(linkage.arrow_table(chunk))
    phase("load", t)
    t = (time.process_time(), time.perf_counter())
    model = engine.train()
    phase("train", t)
    t = (time.process_time(), time.perf_counter())
    scored = {(p.id_l, p.id_r): p.match_probability for p in engine.predict(model, threshold=min(THRESHOLDS))}
    phase("predict", t)
    phase("end_to_end", start_all)
    engine.close()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    accuracy = {str(th): scores({k for k, pr in scored.items() if pr >= th}, truth) for th in THRESHOLDS}
    baseline = scores(exact_baseline(records), truth)
    realtime = realtime_latency(model, records)
    if args.save_model:
        MODEL_PATH.write_text(json.dumps(model, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"model saved to {MODEL_PATH}")

    result = {
        "machine": machine_info(),
        "people": people,
        "records": len(records),
        "true_pairs": len(truth),
        "generate": generated,
        "phases": phases,
        "peak_rss_bytes": peak_rss,
        "accuracy": accuracy,
        "baseline_exact_match": baseline,
        "realtime": realtime,
        "targets": {"f1": 0.95, "end_to_end_s_at_1M": 600, "peak_rss_bytes_at_1M": 8 * 1024**3},
    }
    path = write_results(NAME if not args.million else f"{NAME}-1m", result, Path(args.out) if args.out else None)
    print(f"{'threshold':>10} {'pairs':>9} {'precision':>9} {'recall':>7} {'F1':>7}")
    for th, row in accuracy.items():
        print(f"{th:>10} {row['pairs']:>9,} {row['precision']:>9} {row['recall']:>7} {row['f1']:>7}")
    print(
        f"{'exact':>10} {baseline['pairs']:>9,} {baseline['precision']:>9} {baseline['recall']:>7} {baseline['f1']:>7}"
    )
    print(f"peak RSS {peak_rss / 2**20:,.0f} MiB; real-time scoring p50 {realtime['per_contact_ms'].get('p50')} ms")
    print(f"wrote {path}")
    return 0
