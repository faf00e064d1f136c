"""Benchmark ``search`` — TARGETS.md row "UI and API": contact list, filters and diacritic-insensitive
search over 1,000,000 contacts, p95 ≤ 150 ms per page.

1. Generates the contacts (``danhba.contacts.demo.PeopleGenerator``, fixed seed) straight into a
   fresh database migrated by danhba, with the app's own functions (``fold``, ``search_row``) so
   every row is what the services would have written.
2. Starts the real server (``danhba serve --no-worker``) on that database, creates an admin API
   key, and times ``GET /api/contacts`` for each kind of request, one request at a time.
3. Times the equivalent hand-written SQL on the same database (sqlite3 / psycopg) as the baseline.

``python -m bench search [--contacts N] [--quick] [--keep] [--database-url URL]``
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import DATA_DIR, REPO_DIR, machine_info, migrate_fresh, percentiles, write_results

NAME = "search"
TARGET_P95_MS = 150.0
GENERATOR_VERSION = 2  # bump when the generated data changes, so --keep regenerates
PAGE = 50
CHUNK = 10_000
LOAD_TABLES = (
    "contacts_contact",
    "contacts_contactemail",
    "contacts_contactphone",
    "contacts_contacttag",
    "contacts_contactcompany",
    "contacts_searchentry",
)


# --- options and database location ---------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench search", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--contacts", type=int, default=None, help="dataset size (default 1,000,000; 20,000 with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="20,000 contacts and 100 requests per kind")
    parser.add_argument("--requests", type=int, default=None, help="timed requests per kind (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per kind first (default 20)")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument(
        "--database-url",
        default="",
        help="default: a fresh SQLite file var/bench/search-N.sqlite3; postgres://… to measure PostgreSQL "
        "(its database name must contain 'bench': the benchmark empties it)",
    )
    parser.add_argument("--keep", action="store_true", help="reuse the generated database if it matches, and keep it")
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE after loading (danhba itself does not)")
    parser.add_argument(
        "--transport",
        choices=("http", "inprocess"),
        default="http",
        help="http (the real server, default) or inprocess (selectors called directly: the DB+ORM share of the time)",
    )
    parser.add_argument("--out", default="", help="directory for search.json (default bench/results)")
    args = parser.parse_args(argv)
    if args.contacts is None:
        args.contacts = 20_000 if args.quick else 1_000_000
    if args.requests is None:
        args.requests = 100 if args.quick else 200
    return args


@dataclass
class Target:
    url: str
    vendor: str
    sqlite_path: Path | None
    var_dir: Path


def resolve_target(args: argparse.Namespace) -> Target:
    url = args.database_url or ""
    if not url:
        path = DATA_DIR / f"search-{args.contacts}.sqlite3"
        url = f"sqlite:///{path}"
    if url.startswith("sqlite:"):
        path = Path(urllib.parse.urlparse(url).path).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return Target(f"sqlite:///{path}", "sqlite", path, path.parent / f"{path.stem}-var")
    dbname = urllib.parse.urlparse(url).path.lstrip("/")
    if "bench" not in dbname:
        raise SystemExit(f"refusing to empty database '{dbname}': its name must contain 'bench'")
    return Target(url, "postgresql", None, DATA_DIR / f"{dbname}-var")


def setup_django(target: Target) -> None:
    os.environ["DATABASE_URL"] = target.url
    os.environ["DANHBA_VAR_DIR"] = str(target.var_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "danhba.settings"
    target.var_dir.mkdir(parents=True, exist_ok=True)
    import django

    django.setup()


# --- data generation -----------------------------------------------------------------------


def dataset_meta() -> dict[str, Any] | None:
    from django.db import connection

    if "bench_meta" not in connection.introspection.table_names():
        return None
    with connection.cursor() as cur:
        cur.execute("SELECT value FROM bench_meta WHERE name = 'dataset'")
        row = cur.fetchone()
    return json.loads(row[0]) if row else None


def reset_database(target: Target) -> None:
    if target.sqlite_path is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target.sqlite_path}{suffix}").unlink(missing_ok=True)
        return
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("DROP SCHEMA public CASCADE")
        cur.execute("CREATE SCHEMA public")


def secondary_indexes(vendor: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the droppable indexes on the bulk-loaded tables."""
    from django.db import connection

    tables = list(LOAD_TABLES)
    with connection.cursor() as cur:
        if vendor == "sqlite":
            marks = ", ".join(["%s"] * len(tables))
            where = f"type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})"
            cur.execute(f"SELECT name, sql FROM sqlite_master WHERE {where}", tables)  # noqa: S608
        else:
            cur.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%s) "
                "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
                [tables],
            )
        return list(cur.fetchall())


def generate(args: argparse.Namespace, target: Target, say: Callable[[str], None]) -> dict[str, Any]:
    """Migrate a fresh database and load ``args.contacts`` contacts with their identities, tags,
    company links and search keys. Secondary indexes are dropped during the load and rebuilt
    after it (a sorted build beats millions of random B-tree inserts)."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone

    from danhba.accounts.models import Role, User
    from danhba.contacts.demo import TAGS, PeopleGenerator
    from danhba.contacts.models import Company, Contact, LifecycleStage, Tag
    from danhba.contacts.search import SearchDoc, search_row
    from danhba.core.normalize import fold

    started = time.perf_counter()
    migrate_fresh()
    conn = connection
    if target.vendor == "sqlite":
        with conn.cursor() as cur:
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA cache_size=-1000000")
    indexes = secondary_indexes(target.vendor)
    with conn.cursor() as cur:
        for name, _sql in indexes:
            cur.execute(f'DROP INDEX "{name}"')

    now = timezone.now()
    n = args.contacts
    gen = PeopleGenerator(seed=args.seed, now=now, n_companies=max(20, n // 200))
    admin_role = Role.objects.get(key="admin")
    sales_role = Role.objects.get(key="sales")
    User.objects.create(
        email="bench-admin@example.com", full_name="Bench", role=admin_role, password=make_password(None)
    )
    sales = [
        User.objects.create(email=f"bench-sales{i}@example.com", role=sales_role, password=make_password(None))
        for i in range(1, 4)
    ]
    tags = {name: Tag.objects.create(name=name, name_key=fold(name), color=color) for name, color, _ in TAGS}
    companies = Company.objects.bulk_create(
        [
            Company(name=c.name, name_key=fold(c.name)[:200], domain=c.domain, tax_code=c.tax_code, province=c.province)
            for c in gen.companies
        ],
        batch_size=2000,
    )
    stage_ids = dict(LifecycleStage.objects.values_list("key", "id"))

    ops = conn.ops
    fields = [f for f in Contact._meta.concrete_fields if not f.primary_key]
    columns = ["id", *(f.column for f in fields)]
    defaults = {f.column: f.get_db_prep_save(f.get_default(), conn) for f in fields}
    placeholders = ", ".join(["%s"] * len(columns))
    contact_sql = f"INSERT INTO contacts_contact ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608
    email_sql = "INSERT INTO contacts_contactemail (contact_id, email, label, is_primary) VALUES (%s, %s, %s, %s)"
    phone_sql = (
        "INSERT INTO contacts_contactphone (contact_id, e164, raw, kind, label, is_primary) "
        "VALUES (%s, %s, %s, %s, %s, %s)"
    )
    tag_sql = "INSERT INTO contacts_contacttag (contact_id, tag_id) VALUES (%s, %s)"
    link_sql = (
        "INSERT INTO contacts_contactcompany (contact_id, company_id, is_primary, job_title) VALUES (%s, %s, %s, %s)"
    )
    key_sql = "INSERT INTO contacts_searchentry (contact_id, name, company, email, phone) VALUES (%s, %s, %s, %s, %s)"
    counts = dict.fromkeys(("contacts", "emails", "phones", "tag_links", "company_links", "search_entries"), 0)
    rng = random.Random(args.seed)
    dt_value = ops.adapt_datetimefield_value
    date_value = ops.adapt_datefield_value
    loaded = 0
    while loaded < n:
        size = min(CHUNK, n - loaded)
        contacts, emails, phones, tag_links, links, keys = [], [], [], [], [], []
        for i in range(loaded + 1, loaded + size + 1):
            p = gen.person()
            row = dict(defaults)
            created = dt_value(p.created_at)
            row.update(
                full_name=p.full_name, family_name=p.family_name, middle_name=p.middle_name, given_name=p.given_name,
                name_order="vi", name_key=fold(p.full_name)[:200], email=p.emails[0] if p.emails else "",
                phone=p.phones[0].e164 if p.phones else "", street=p.street, ward=p.ward, province=p.province,
                birthday=date_value(p.birthday), gender=p.gender, occupation=p.occupation, job_title=p.job_title,
                education=p.education, income_band=p.income_band, lifecycle_stage_id=stage_ids[p.stage],
                source=p.source, owner_id=rng.choice(sales).pk if rng.random() < 0.6 else None,
                created_at=created, updated_at=created, last_activity_at=created, **p.extras,
            )  # fmt: skip
            row["id"] = i
            contacts.append(tuple(row[c] for c in columns))
            emails += [(i, e, "personal", j == 0) for j, e in enumerate(p.emails)]
            phones += [(i, ph.e164, ph.raw, ph.kind, ph.kind, j == 0) for j, ph in enumerate(p.phones)]
            tag_links += [(i, tags[name].pk) for name in p.tags]
            company_names = []
            if p.company is not None:
                company = companies[p.company]
                company_names.append(company.name)
                links.append((i, company.pk, True, p.job_title))
            keys.append(search_row(SearchDoc(i, p.full_name, p.emails, [ph.e164 for ph in p.phones], company_names)))
        with transaction.atomic(), conn.cursor() as cur:
            cur.executemany(contact_sql, contacts)
            cur.executemany(email_sql, emails)
            cur.executemany(phone_sql, phones)
            cur.executemany(tag_sql, tag_links)
            cur.executemany(link_sql, links)
            cur.executemany(key_sql, keys)
        for key, rows in (
            ("contacts", contacts), ("emails", emails), ("phones", phones), ("tag_links", tag_links),
            ("company_links", links), ("search_entries", keys),
        ):  # fmt: skip
            counts[key] += len(rows)
        loaded += size
        say(f"generated {loaded:,}/{n:,} contacts ({time.perf_counter() - started:.0f} s)")
    load_seconds = time.perf_counter() - started
    say(f"rebuilding {len(indexes)} indexes")
    with conn.cursor() as cur:
        for _name, sql in indexes:
            cur.execute(sql)
        if target.vendor == "postgresql":
            cur.execute("SELECT setval(pg_get_serial_sequence('contacts_contact', 'id'), %s)", [n])
            if args.analyze:
                cur.execute("VACUUM ANALYZE")
        elif args.analyze:
            cur.execute("ANALYZE")
        cur.execute("CREATE TABLE bench_meta (name VARCHAR(40) PRIMARY KEY, value TEXT NOT NULL)")
    total = time.perf_counter() - started
    meta = {
        "generator_version": GENERATOR_VERSION,
        "contacts": n,
        "seed": args.seed,
        "analyzed": bool(args.analyze),
        "counts": counts,
        "companies": len(companies),
        "generation_seconds": round(total, 1),
        "load_seconds": round(load_seconds, 1),
        "index_seconds": round(total - load_seconds, 1),
    }
    with conn.cursor() as cur:
        cur.execute("INSERT INTO bench_meta (name, value) VALUES (%s, %s)", ["dataset", json.dumps(meta)])
        if target.vendor == "sqlite":
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return meta


def ensure_dataset(args: argparse.Namespace, target: Target, say: Callable[[str], None]) -> dict[str, Any]:
    if args.keep:
        meta = dataset_meta()
        wanted = {"generator_version": GENERATOR_VERSION, "contacts": args.contacts, "seed": args.seed}
        if meta and all(meta.get(k) == v for k, v in wanted.items()):
            say(f"reusing the generated database ({args.contacts:,} contacts); applying new migrations if any")
            from django.core.management import call_command

            call_command("migrate", verbosity=0, interactive=False)
            return {**meta, "reused": True, "analyzed": set_statistics(target, args.analyze)}
    from django.db import connection

    connection.close()
    reset_database(target)
    say(f"generating {args.contacts:,} contacts (seed {args.seed})")
    return {**generate(args, target, say), "reused": False}


def set_statistics(target: Target, analyze: bool) -> bool:
    """Give a reused database planner statistics, or take them away (SQLite only: PostgreSQL's
    autovacuum analyzes a freshly loaded table anyway)."""
    from django.db import connection

    with connection.cursor() as cur:
        if analyze:
            cur.execute("ANALYZE")
            return True
        if target.vendor == "sqlite":
            cur.execute("SELECT name FROM sqlite_master WHERE name LIKE 'sqlite_stat%'")
            for (table,) in cur.fetchall():
                cur.execute(f"DROP TABLE {table}")
            return False
    return True


def database_size(target: Target) -> int:
    if target.sqlite_path is not None:
        return sum(
            Path(f"{target.sqlite_path}{s}").stat().st_size
            for s in ("", "-wal")
            if Path(f"{target.sqlite_path}{s}").exists()
        )
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_database_size(current_database())")
        return int(cur.fetchone()[0])


# --- the requests ----------------------------------------------------------------------------


@dataclass
class Walk:
    """A first request and how many pages to follow through ``next_cursor`` (1 = just the first)."""

    params: dict[str, str]
    pages: int = 1


@dataclass
class Kind:
    name: str
    description: str
    walks: list[Walk]
    # Baseline inputs: the search-key prefix (searches) or the filter (lists).
    baseline: Callable[..., Any] | None = None
    samples: list[float] = field(default_factory=list)
    baseline_samples: list[float] = field(default_factory=list)
    items: int = 0
    baseline_items: int = 0


def sample_contacts(count: int, seed: int) -> list[dict[str, Any]]:
    from danhba.contacts.models import Contact

    top = Contact.objects.order_by("-id").values_list("id", flat=True).first() or 0
    rng = random.Random(seed + 1)
    ids = rng.sample(range(1, top + 1), min(count, top))
    rows = Contact.objects.filter(pk__in=ids).values("id", "full_name", "given_name", "name_key", "phone", "email")
    by_id: dict[int, dict[str, Any]] = {r["id"]: dict(r) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def build_kinds(requests: int, seed: int) -> list[Kind]:
    from danhba.core.keyset import encode_cursor
    from danhba.core.normalize import fold

    rng = random.Random(seed + 2)
    people = sample_contacts(max(requests, 50) * 2, seed)
    with_phone = [p for p in people if p["phone"]] or people
    with_email = [p for p in people if p["email"]] or people

    def starts(count: int) -> list[str]:
        """Keyset cursors at random places in the name order: page N of the list, not page 1."""
        return [encode_cursor([p["name_key"], p["id"]]) for p in rng.sample(people, min(count, len(people)))]

    def walks(params: dict[str, str], pages: int, from_random_place: bool = True) -> list[Walk]:
        count = max(1, requests // pages)
        if not from_random_place:
            return [Walk(dict(params), pages) for _ in range(count)]
        return [Walk({**params, "cursor": c}, pages) for c in starts(count)]

    def phone_formats(e164: str, i: int) -> str:
        national = "0" + e164[3:]
        return (
            f"{national[:4]} {national[4:7]} {national[7:]}",
            e164,
            f"84{national[1:]}",
        )[i % 3]

    kinds = [
        Kind("list_first_page", "first page sorted by name", walks({"sort": "name"}, 1, from_random_place=False)),
        Kind("list_keyset_pages", "20 pages followed by cursor from a random place", walks({"sort": "name"}, 20)),
        Kind(
            "filter_stage",
            "lifecycle_stage=customer, 5 pages from a random place",
            walks({"lifecycle_stage": "customer"}, 5),
        ),
        Kind("filter_tag", "tag=VIP, 5 pages from a random place", walks({"tag": "VIP"}, 5)),
        Kind("filter_province", "province=ha-noi, 5 pages from a random place", walks({"province": "ha-noi"}, 5)),
        Kind(
            "search_full_name",
            "full name typed without diacritics",
            [Walk({"q": fold(p["full_name"])}) for p in rng.choices(people, k=requests)],
        ),
        Kind(
            "search_given_name",
            "given name only, without diacritics",
            [Walk({"q": fold(p["given_name"] or p["full_name"])}) for p in rng.choices(people, k=requests)],
        ),
        Kind("search_family_name", "'nguyen', 10 pages", walks({"q": "nguyen"}, 10, from_random_place=False)),
        Kind(
            "search_phone",
            "a phone in 3 formats (0912 345 678, +84912345678, 84912345678)",
            [Walk({"q": phone_formats(p["phone"], i)}) for i, p in enumerate(rng.choices(with_phone, k=requests))],
        ),
        Kind(
            "search_phone_tail",
            "the last 4–6 digits of a phone",
            [Walk({"q": p["phone"][-rng.randint(4, 6) :]}) for p in rng.choices(with_phone, k=requests)],
        ),
        Kind(
            "search_email_prefix",
            "an email's start, up to a few letters after the @",
            [
                Walk({"q": p["email"][: p["email"].index("@") + rng.randint(1, 4)]})
                for p in rng.choices(with_email, k=requests)
            ],
        ),
    ]
    return kinds


# --- danhba: over HTTP, or the selectors in-process ------------------------------------------


class HttpClient:
    """One keep-alive connection to the server; every request is timed on the client side."""

    def __init__(self, port: int, key: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        path = "/api/contacts?" + urllib.parse.urlencode(params)
        for attempt in range(2):
            try:
                self.conn.request("GET", path, headers=self.headers)
                response = self.conn.getresponse()
                body = response.read()
                break
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        data = json.loads(body) if body else {}
        return response.status, data

    def close(self) -> None:
        self.conn.close()


class InProcessClient:
    """The selector the API calls, without HTTP: shows the database + ORM share of a request."""

    def __init__(self) -> None:
        from danhba.accounts.models import User

        self.user = User.objects.select_related("role").get(email="bench-admin@example.com")

    def get(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        from danhba.contacts import selectors

        filters = selectors.ContactFilters.from_params(params)
        page = selectors.contact_page(
            self.user, filters, sort=params.get("sort", "name"), cursor=params.get("cursor"), limit=int(params["limit"])
        )
        hidden = selectors.hidden_fields(self.user)
        items = [selectors.contact_data(c, self.user, hidden, full=False) for c in page.items]
        return 200, {"items": items, "next_cursor": page.next_cursor}

    def close(self) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(target: Target, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DATABASE_URL": target.url,
        "DANHBA_VAR_DIR": str(target.var_dir),
        "DJANGO_SETTINGS_MODULE": "danhba.settings",
        "DEBUG": "0",
    }
    cmd = [sys.executable, "-m", "danhba.cli", "serve", "--no-worker", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_DIR, start_new_session=True
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def wait_ready(client: HttpClient, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}); see {log}")
        try:
            status, _ = client.get({"limit": "1"})
            if status == 200:
                return
            last = f"HTTP {status}"
        except (OSError, http.client.HTTPException, json.JSONDecodeError) as exc:
            last = str(exc)
        time.sleep(0.3)
    raise SystemExit(f"the server did not answer GET /api/contacts within {timeout:.0f} s ({last}); see {log}")


def run_danhba(client: HttpClient | InProcessClient, kind: Kind, warmup: int) -> None:
    def one(params: dict[str, str]) -> tuple[float, dict[str, Any]]:
        t0 = time.perf_counter()
        status, data = client.get({**params, "limit": str(PAGE)})
        elapsed = (time.perf_counter() - t0) * 1000
        if status != 200:
            raise SystemExit(
                f"{kind.name}: GET /api/contacts?{urllib.parse.urlencode(params)} answered {status}: {data}"
            )
        return elapsed, data

    for walk in kind.walks[: max(1, warmup // max(1, kind.walks[0].pages))]:
        one(walk.params)
    for walk in kind.walks:
        params = dict(walk.params)
        for _ in range(walk.pages):
            elapsed, data = one(params)
            kind.samples.append(elapsed)
            kind.items += len(data.get("items", []))
            if not data.get("next_cursor"):
                break
            params["cursor"] = data["next_cursor"]


# --- the baseline: hand-written SQL on the same database -------------------------------------


class Baseline:
    """What a developer would write by hand for each request: one indexed query per page (two for
    a search: the key range, then the contacts), run with the plain driver, rows fully fetched."""

    def __init__(self, target: Target) -> None:
        self.vendor = target.vendor
        if target.sqlite_path is not None:
            self.conn: Any = sqlite3.connect(f"file:{target.sqlite_path}?mode=ro", uri=True)
            self.mark = "?"
        else:
            import psycopg

            self.conn = psycopg.connect(target.url, autocommit=True)
            self.mark = "%s"
        self.tag_ids: dict[str, int] = {}
        self.stage_ids: dict[str, int] = {}
        for key, pk in self.fetch("SELECT name_key, id FROM contacts_tag", []):
            self.tag_ids[key] = pk
        for key, pk in self.fetch("SELECT key, id FROM contacts_lifecyclestage", []):
            self.stage_ids[key] = pk

    def fetch(self, sql: str, params: list[Any]) -> list[Any]:
        sql = sql.replace("?", self.mark)
        cur = self.conn.cursor()
        cur.execute(sql, params)
        rows = cur.fetchall()
        cur.close()
        return list(rows)

    SELECT = "SELECT c.*, s.key FROM contacts_contact c JOIN contacts_lifecyclestage s ON s.id = c.lifecycle_stage_id "

    def list_page(
        self, params: dict[str, str], after: tuple[str, int] | None
    ) -> tuple[list[Any], tuple[str, int] | None]:
        from danhba.core.normalize import fold

        where: list[str] = []
        args: list[Any] = []
        if "lifecycle_stage" in params:
            where.append("c.lifecycle_stage_id = ?")
            args.append(self.stage_ids[params["lifecycle_stage"]])
        if "tag" in params:
            where.append("EXISTS (SELECT 1 FROM contacts_contacttag t WHERE t.contact_id = c.id AND t.tag_id = ?)")
            args.append(self.tag_ids[fold(params["tag"])])
        if "province" in params:
            where.append("c.province = ?")
            args.append(params["province"])
        if after is not None:
            where.append("(c.name_key, c.id) > (?, ?)")
            args += list(after)
        sql = (
            self.SELECT
            + ("WHERE " + " AND ".join(where) if where else "")
            + f" ORDER BY c.name_key, c.id LIMIT {PAGE + 1}"
        )
        rows = self.fetch(sql, args)
        more = len(rows) > PAGE
        rows = rows[:PAGE]
        return rows, ((rows[-1][self.name_key_index], rows[-1][0]) if more and rows else None)

    @property
    def name_key_index(self) -> int:
        from danhba.contacts.models import Contact

        if not hasattr(self, "_nk"):
            columns = [f.column for f in Contact._meta.concrete_fields]
            self._nk = columns.index("name_key")
        return self._nk

    def search_page(self, query: Any, after: tuple[Any, int] | None) -> tuple[list[Any], tuple[Any, int] | None]:
        # The index's matches in id order from the cursor (the index streams them), then the contacts.
        from danhba.contacts.search import fts5_query, pg_tsquery

        if self.mark == "?":
            sql = "SELECT rowid FROM contacts_searchentry_fts WHERE contacts_searchentry_fts MATCH ?"
            args: list[Any] = [fts5_query(query)]
            column = "rowid"
        else:
            sql = "SELECT contact_id FROM contacts_searchentry WHERE doc @@ ?::tsquery"
            args = [pg_tsquery(query)]
            column = "contact_id"
        if after is not None:
            sql += f" AND {column} > ?"
            args.append(after[1])
        ids = [r[0] for r in self.fetch(sql + f" ORDER BY {column} LIMIT {PAGE + 1}", args)]
        more = len(ids) > PAGE
        ids = ids[:PAGE]
        rows = (
            self.fetch(self.SELECT + f"WHERE c.id IN ({', '.join('?' * len(ids))}) ORDER BY c.id", ids) if ids else []
        )
        return rows, ((ids[-1], ids[-1]) if more and ids else None)


def run_baseline(base: Baseline, kind: Kind, warmup: int) -> None:
    from danhba.contacts.search import search_prefix
    from danhba.core.keyset import decode_cursor

    def page(params: dict[str, str], after: tuple[str, int] | None) -> tuple[float, int, tuple[str, int] | None]:
        t0 = time.perf_counter()
        if "q" in params:
            query = search_prefix(params["q"])
            rows, nxt = base.search_page(query, after) if query else ([], None)
        else:
            rows, nxt = base.list_page(params, after)
        return (time.perf_counter() - t0) * 1000, len(rows), nxt

    def start(walk: Walk) -> tuple[dict[str, str], tuple[str, int] | None]:
        params = {k: v for k, v in walk.params.items() if k not in ("cursor", "sort")}
        if "cursor" not in walk.params:
            return params, None
        key, pk = decode_cursor(walk.params["cursor"], 2)
        return params, (key, pk)

    for walk in kind.walks[: max(1, warmup // max(1, kind.walks[0].pages))]:
        page(*start(walk))
    for walk in kind.walks:
        params, after = start(walk)
        for _ in range(walk.pages):
            elapsed, n, after = page(params, after)
            kind.baseline_samples.append(elapsed)
            kind.baseline_items += n
            if after is None:
                break


# --- the run ---------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    from rich.console import Console

    console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 130)

    def say(message: str) -> None:
        console.log(message)

    target = resolve_target(args)
    setup_django(target)
    dataset = ensure_dataset(args, target, say)
    from django.db import connection

    from danhba.accounts.models import User
    from danhba.accounts.services import apikey_create
    from danhba.contacts.models import ContactEmail, ContactPhone, SearchEntry
    from danhba.core.actor import Actor

    if target.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    admin = User.objects.get(email="bench-admin@example.com")
    _key, raw_key = apikey_create(actor=Actor.system("cli"), user=admin, name=f"bench {time.time():.0f}")
    kinds = build_kinds(args.requests, args.seed)
    transport = args.transport
    log = target.var_dir / "server.log"
    say(f"measuring {len(kinds)} kinds × {args.requests} requests via {transport}")
    connection.close()

    with contextlib.ExitStack() as stack:
        client: HttpClient | InProcessClient
        if transport == "http":
            port = free_port()
            proc = stack.enter_context(server(target, port, log))
            client = HttpClient(port, raw_key)
            wait_ready(client, proc, log)
        else:
            client = InProcessClient()
        base = Baseline(target)
        for kind in kinds:
            run_danhba(client, kind, args.warmup)
            run_baseline(base, kind, args.warmup)
            d, b = percentiles(kind.samples), percentiles(kind.baseline_samples)
            say(f"{kind.name}: danhba p95 {d.get('p95')} ms, baseline p95 {b.get('p95')} ms")
        client.close()
        base.conn.close()

    counts = dataset.get("counts") or {
        "contacts": dataset.get("contacts"),
        "emails": ContactEmail.objects.count(),
        "phones": ContactPhone.objects.count(),
        "search_entries": SearchEntry.objects.count(),
    }
    result = report(args, target, dataset, counts, kinds, transport)
    path = write_results(NAME, result, Path(args.out) if args.out else None)
    print_table(result, console)
    console.print(f"wrote {path}")
    if not args.keep and target.sqlite_path is not None:
        connection.close()
        reset_database(target)
    return 0


def report(
    args: argparse.Namespace,
    target: Target,
    dataset: dict[str, Any],
    counts: dict[str, Any],
    kinds: list[Kind],
    transport: str,
) -> dict[str, Any]:

    per_kind = {}
    for kind in kinds:
        d, b = percentiles(kind.samples), percentiles(kind.baseline_samples)
        per_kind[kind.name] = {
            "description": kind.description,
            "danhba_ms": d,
            "baseline_ms": b,
            "ratio_p95": round(d["p95"] / b["p95"], 1) if b.get("p95") else None,
            "meets_target": d["p95"] <= TARGET_P95_MS,
            "rows": {"danhba": kind.items, "baseline": kind.baseline_items},
        }
    everything = [s for k in kinds for s in k.samples]
    everything_base = [s for k in kinds for s in k.baseline_samples]
    d, b = percentiles(everything), percentiles(everything_base)
    return {
        "target": {"p95_ms": TARGET_P95_MS, "row": "UI and API: contact list, filter and search over 1M contacts"},
        "machine": machine_info(),
        "database": {
            "vendor": target.vendor,
            "server_version": sqlite3.sqlite_version if target.vendor == "sqlite" else _pg_version(),
            "size_bytes": database_size(target),
            # PostgreSQL's autovacuum analyzes a freshly loaded table on its own.
            "analyzed": bool(dataset.get("analyzed")) if target.vendor == "sqlite" else "autovacuum",
        },
        "dataset": {
            "contacts": args.contacts,
            "seed": args.seed,
            **counts,
            "generation_seconds": dataset.get("generation_seconds"),
            "load_seconds": dataset.get("load_seconds"),
            "index_seconds": dataset.get("index_seconds"),
            "reused": dataset.get("reused", False),
        },
        "method": {
            "transport": transport,
            "endpoint": "GET /api/contacts" if transport == "http" else "selectors.contact_page in-process",
            "page_size": PAGE,
            "requests_per_kind": args.requests,
            "warmup_per_kind": args.warmup,
            "concurrency": 1,
        },
        "kinds": per_kind,
        "overall": {
            "danhba_ms": d,
            "baseline_ms": b,
            "ratio_p95": round(d["p95"] / b["p95"], 1) if b.get("p95") else None,
            "meets_target": all(v["meets_target"] for v in per_kind.values()),
        },
    }


def _pg_version() -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        return str(cur.fetchone()[0])


def print_table(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    ds = result["dataset"]
    title = (
        f"search: {ds['contacts']:,} contacts on {result['database']['vendor']} via {result['method']['transport']} "
        f"(target p95 ≤ {TARGET_P95_MS:.0f} ms)"
    )
    table = Table(title=title)
    for col in ("kind", "n", "p50", "p95", "p99", "baseline p50", "baseline p95", "ratio p95", "target"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    rows = [*result["kinds"].items(), ("overall", result["overall"])]
    for name, row in rows:
        d, b = row["danhba_ms"], row["baseline_ms"]
        table.add_row(
            name,
            str(d.get("n", 0)),
            f"{d.get('p50', 0):.1f}",
            f"{d.get('p95', 0):.1f}",
            f"{d.get('p99', 0):.1f}",
            f"{b.get('p50', 0):.2f}",
            f"{b.get('p95', 0):.2f}",
            f"{row['ratio_p95']}×" if row["ratio_p95"] is not None else "–",
            "[green]ok[/green]" if row["meets_target"] else "[red]missed[/red]",
        )
    console.print(table)
    gen = ds.get("generation_seconds")
    size_mb = result["database"]["size_bytes"] / 1e6
    reused = " (reused)" if ds.get("reused") else ""
    console.print(
        f"dataset generated in {gen} s{reused}; database {size_mb:,.0f} MB; "
        f"search index rows {ds.get('search_entries', 0):,}"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
