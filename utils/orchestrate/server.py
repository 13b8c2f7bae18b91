"""Start the Dagster UI (dagster-webserver) on 127.0.0.1 for scripts and tests.

    with webserver() as url:          # a free port, DAGSTER_HOME=<project>/.dagster
        ...                           # e.g. open url + "/asset-groups" in a browser

The webserver loads `utils.orchestrate` (the generated definitions) in a subprocess
with the caller's environment plus DAGSTER_HOME and the given variables (e.g.
LAKEHOUSE_DATAMART); it is stopped when the block ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

from utils.lake.paths import PROJECT_ROOT
from utils.orchestrate.settings import DEFAULT_DAGSTER_HOME

logger = logging.getLogger(__name__)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dagster_home(path: Path | None = None) -> Path:
    """DAGSTER_HOME: `path`, else $DAGSTER_HOME, else <project>/.dagster (created)."""
    home = Path(path or os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


@contextlib.contextmanager
def webserver(*, port: int | None = None, home: Path | None = None, env: Mapping[str, str] | None = None,
              timeout: float = 120.0) -> Iterator[str]:
    """Run dagster-webserver on 127.0.0.1 (a free port unless given) until the block
    ends; yields its base URL once it answers. Raises RuntimeError with the server's
    last output when it does not start within `timeout` seconds."""
    port = port or free_port()
    environment = {**os.environ, **(env or {}), "DAGSTER_HOME": str(dagster_home(home))}
    command = [sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port),
               "-m", "utils.orchestrate"]
    log = Path(environment["DAGSTER_HOME"]) / f"webserver-{port}.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(url, process, timeout, log)
            logger.info("Dagster UI at %s (DAGSTER_HOME %s)", url, environment["DAGSTER_HOME"])
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited with {process.returncode}: {_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"dagster-webserver did not answer at {url} within {timeout:.0f}s: {_tail(log)}")


def _tail(log: Path, lines: int = 5) -> str:
    text = log.read_text(encoding="utf-8", errors="replace").strip().splitlines() if log.exists() else []
    return " | ".join(text[-lines:]) or "no output"
