"""A local SMTP server for the email benchmark, run as its own process:
``python -m bench.email_sink PORT OUT``. It takes every message (aiosmtpd), keeps
(recipient, Message-ID) of each, and writes them as JSON lines to OUT every half second and when
it is stopped (SIGTERM), so the benchmark can check who got what, and how often."""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


class Sink:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.pending: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        head = envelope.original_content.split(b"\r\n\r\n", 1)[0]
        found = MESSAGE_ID.search(head)
        mid = found.group(1).decode() if found else ""
        with self.lock:
            self.pending.extend((rcpt, mid) for rcpt in envelope.rcpt_tos)
        return "250 OK"

    def flush(self) -> None:
        with self.lock:
            rows, self.pending = self.pending, []
        if rows:
            with self.out.open("a") as f:
                f.writelines(json.dumps(row) + "\n" for row in rows)


def main(argv: list[str]) -> int:
    port, out = int(argv[0]), Path(argv[1])
    out.write_text("")
    sink = Sink(out)
    controller = Controller(sink, hostname="127.0.0.1", port=port, decode_data=False)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    while not stop.is_set():
        time.sleep(0.5)
        sink.flush()
    controller.stop()
    sink.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
