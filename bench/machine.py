"""How busy the machine was while a benchmark ran, for its JSON (``write_results`` adds it).

The machines are shared: a figure measured while other work ran is slower than the code is.
A thread samples ``os.getloadavg()`` (the 1-minute load) every few seconds from the start of
the run (``python -m bench NAME`` starts it); at the end the benchmark's own use of the cores
(CPU seconds of this process and its finished children over the wall time) and that of the
local database servers (PostgreSQL, Redis: a PostgreSQL benchmark's server works for it) are
subtracted from the mean load, and what remains is the other work that competed.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from typing import Any

INTERVAL_S = 2.0
# Other work averaging more than half a core is worth saying: on 2 cores it slows a run visibly.
COMPETED_ABOVE = 0.5


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# The local database servers: a PostgreSQL benchmark's server does part of its work (the index
# work SQLite does in the benchmark's own process), so their CPU is told apart from "others".
SERVERS = ("postgres", "redis-server")


def servers_cpu() -> dict[tuple[int, int], float]:
    """CPU seconds of each running database server process (``SERVERS``), by pid and start time
    (a pid used again is another process; Linux /proc, empty elsewhere)."""
    out: dict[tuple[int, int], float] = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return out
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue  # ended meanwhile
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        if name in SERVERS:
            fields = stat[stat.rfind(")") + 2 :].split()
            out[(pid, int(fields[19]))] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime; starttime
    return out


def _servers_since(start: dict[tuple[int, int], float], seen: dict[tuple[int, int], float]) -> float:
    """CPU seconds the server processes used since ``start``, from the last reading of each
    (``seen``: a backend that served a benchmark's child process has ended by the time the
    benchmark sums up; what it used after its last sample is lost, an underestimate). Those
    started since count whole."""
    return sum(cpu - start.get(pid, 0.0) for pid, cpu in seen.items())


class LoadSampler:
    def __init__(self, interval: float = INTERVAL_S, servers_interval: float = INTERVAL_S) -> None:
        self.interval = interval
        # Reading every process's /proc entry costs more than the load average: not at every
        # sample when those come fast (a test's), nor more often than every 2 s by default.
        self.servers_interval = servers_interval
        self.samples: list[float] = []
        self.started_at: float | None = None
        self.cpu_at_start = 0.0
        self.servers_at_start: dict[tuple[int, int], float] = {}
        self.servers_seen: dict[tuple[int, int], float] = {}  # each server process's CPU at its last sample
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start sampling (once; later calls do nothing)."""
        with self._lock:
            if self.started_at is not None:
                return
            self.started_at = time.monotonic()
            self.cpu_at_start = _cpu_seconds()
            self.servers_at_start = servers_cpu()
            self.servers_seen = dict(self.servers_at_start)
        self.samples.append(os.getloadavg()[0])
        threading.Thread(target=self._run, name="bench-load-sampler", daemon=True).start()

    def _run(self) -> None:
        servers_next = time.monotonic() + self.servers_interval
        while not self._stop.wait(self.interval):
            self.samples.append(os.getloadavg()[0])
            if time.monotonic() >= servers_next:
                self.servers_seen.update(servers_cpu())
                servers_next = time.monotonic() + self.servers_interval

    def summary(self) -> dict[str, Any]:
        """The load during the run so far, and whether other work competed."""
        now = os.getloadavg()
        cpus = os.cpu_count() or 1
        out: dict[str, Any] = {"cpus": cpus, "loadavg_at_end": [round(x, 2) for x in now]}
        if self.started_at is None or not self.samples:
            # Not sampled (the benchmark was not started by `python -m bench`): the 1-, 5- and
            # 15-minute averages at the end are all there is.
            out["sampled"] = False
            out["competed"] = now[1] > cpus
            out["note"] = "not sampled during the run; see loadavg_at_end (1, 5, 15 minutes)"
            return out
        samples = list(self.samples)
        wall = max(time.monotonic() - self.started_at, 1e-9)
        own = (_cpu_seconds() - self.cpu_at_start) / wall
        mean = sum(samples) / len(samples)
        self.servers_seen.update(servers_cpu())
        servers = max(0.0, _servers_since(self.servers_at_start, self.servers_seen) / wall)
        others = max(0.0, mean - own - servers)
        competed = others > COMPETED_ABOVE
        out.update(
            {
                "sampled": True,
                "interval_s": self.interval,
                "samples": len(samples),
                "seconds": round(wall, 1),
                "load1_mean": round(mean, 2),
                "load1_max": round(max(samples), 2),
                "own_cores": round(own, 2),
                # The local PostgreSQL and Redis servers: for a benchmark on PostgreSQL mostly its
                # own work (other sessions' queries to the same server would count here too).
                "servers_cores": round(servers, 2),
                "others_mean": round(others, 2),
                "competed": competed,
                "note": (
                    f"other work used about {others:.1f} of {cpus} cores during the run: figures are slower than "
                    "on a quiet machine"
                    if competed
                    else "the machine was quiet apart from this benchmark"
                ),
            }
        )
        return out


SAMPLER = LoadSampler()


def load_sampling_start() -> None:
    SAMPLER.start()


def load_during_run() -> dict[str, Any]:
    return SAMPLER.summary()
