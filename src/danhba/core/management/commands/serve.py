"""``danhba serve``: the web UI and API (gunicorn) plus a Huey worker, in one command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the web UI and API on HOST:PORT and run a background worker beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.getenv("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.getenv("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.getenv("WEB_WORKERS", "2")))
        parser.add_argument("--no-worker", action="store_true", help="do not start the background worker")
        parser.add_argument(
            "--drainers",
            type=int,
            default=int(os.getenv("EVENT_DRAINERS", "1")),
            help="PostgreSQL: threads of the worker that store accepted events, each its share of the "
            "identities (EVENT_DRAINERS; SQLite: always 1)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "danhba.settings")}
        # The web processes split each request into this many partitions; the worker drains them.
        env["EVENT_DRAINERS"] = str(max(1, opts["drainers"]))
        bind = f"{opts['host']}:{opts['port']}"
        # Links in email (SITE_URL's default) point where this serves, unless SITE_URL says otherwise.
        env["PORT"] = str(opts["port"])
        if opts["host"] not in ("0.0.0.0", "::", ""):  # noqa: S104 — compared, not bound
            env["HOST"] = opts["host"]
        web = [
            sys.executable,
            "-m",
            "gunicorn",
            "danhba.wsgi:application",
            "--bind",
            bind,
            "--workers",
            str(opts["workers"]),
            "--threads",
            "4",
            "--access-logfile",
            "-",
            # Gunicorn's default format logs the Basic-auth user name, which for the event API is
            # the source's write key: log without it.
            "--access-logformat",
            '%(h)s "%(r)s" %(s)s %(b)s %(L)ss "%(a)s"',
            # No request-line limit in gunicorn (its largest, 8,190 bytes, answered longer URLs
            # with an HTML page): danhba's own, core.longurl.URL_MAX, answers them in JSON.
            "--limit-request-line",
            "0",
            "--graceful-timeout",
            "10",
            "--log-level",
            "warning",
        ]
        procs = [subprocess.Popen(web, env=env)]
        if not opts["no_worker"]:
            worker = [sys.executable, "-m", "danhba.cli", "worker", "--workers", "2"]
            procs.append(subprocess.Popen(worker, env=env))
        self.stdout.write(self.style.SUCCESS(f"danhba is running at http://{bind}/  (Ctrl+C to stop)"))
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(p.poll() is None for p in procs):
                time.sleep(0.5)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
        failed = [p for p in procs if p.returncode not in (0, -signal.SIGTERM, None)]
        if failed and not stopping:
            sys.exit(1)
