"""The ``danhba`` console command: a thin front over Django's management commands.

``danhba serve``, ``danhba worker``, ``danhba migrate``, ``danhba createadmin``,
``danhba apikey create``, ``danhba demo``, ``danhba setup``; anything else is passed to Django
(``danhba shell``, ``danhba check`` …).
"""

from __future__ import annotations

import os
import sys

ALIASES = {
    "worker": ["run_huey"],
}


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "danhba.settings")
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(__doc__.strip())
        print("\nRun 'danhba <command> --help' for a command's options.")
        args = ["help"] if not args or args[0] != "help" else args
        if args == ["help"]:
            return
    command = args[0]
    rest = args[1:]
    if command == "worker":
        # Read by settings: the worker logs at WORKER_LOG_LEVEL (WARNING unless asked).
        os.environ["DANHBA_WORKER_PROCESS"] = "1"
    if command in ALIASES:
        args = ALIASES[command] + rest
    from django.core.management import execute_from_command_line

    execute_from_command_line(["danhba", *args])


if __name__ == "__main__":
    main()
