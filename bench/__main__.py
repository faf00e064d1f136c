"""``python -m bench [NAME] [options]``: run one benchmark, or all of them one after another.

Each benchmark runs in its own process because each points Django at its own database.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

from bench import BENCHMARKS, REPO_DIR
from bench.machine import load_sampling_start

# Benchmarks whose name is a Python keyword live in a module of another name.
MODULES = {"import": "import_bench", "email": "email_bench"}


def main(argv: list[str]) -> int:
    if (argv and argv[0] in ("-h", "--help")) or not argv:
        if argv:
            print(__doc__.strip())
            print("\nbenchmarks: " + ", ".join(BENCHMARKS))
            print("run 'python -m bench NAME --help' for a benchmark's options")
            return 0
        failed = []
        for name in BENCHMARKS:
            print(f"=== bench {name} ===", flush=True)
            code = subprocess.call([sys.executable, "-m", "bench", name], cwd=REPO_DIR)
            if code:
                failed.append(name)
        if failed:
            print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1 if failed else 0
    name, rest = argv[0], argv[1:]
    if name not in BENCHMARKS:
        print(f"unknown benchmark '{name}'; choose from: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    load_sampling_start()  # the machine's load during the run goes into its JSON (bench/machine.py)
    module = importlib.import_module(f"bench.{MODULES.get(name, name)}")
    return int(module.main(rest))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
