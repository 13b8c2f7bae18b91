"""python -m utils.orchestrate dev [dagster dev options]: the Dagster UI and daemon for
every domain, with DAGSTER_HOME=<project>/.dagster unless set, on 127.0.0.1:3000."""

from __future__ import annotations

import os
import sys

from utils.orchestrate.server import dagster_home


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "dev":
        sys.stderr.write("usage: python -m utils.orchestrate dev [dagster dev options, e.g. -p 3001]\n")
        return 2
    os.environ["DAGSTER_HOME"] = str(dagster_home())
    command = [sys.executable, "-m", "dagster", "dev", "-m", "utils.orchestrate", "-h", "127.0.0.1", *argv[1:]]
    os.execvp(command[0], command)  # replaces this process: Ctrl-C reaches dagster directly


if __name__ == "__main__":
    sys.exit(main())
