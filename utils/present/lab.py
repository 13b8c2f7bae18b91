"""Start JupyterLab for the project, never without a token.

    python -m utils.present.lab [--port 8888] [--ip 0.0.0.0] [--root DIR]

The token is the environment variable JUPYTER_TOKEN when it is set and not empty,
otherwise a random one generated now (48 hex characters). The URL to open, token
included, is logged at start. Used by the `jupyter` service of docker-compose.yaml;
works the same outside Docker.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from pathlib import Path

logger = logging.getLogger(__name__)
from utils.lake.paths import PROJECT_ROOT  # noqa: E402  (resolved once, in utils.lake.paths)


def lab_command(token: str, port: int, ip: str, root: Path) -> list[str]:
    """The `jupyter lab` command line (pure, for tests)."""
    if not token:
        raise ValueError("refusing to start JupyterLab without a token")
    return [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        f"--ip={ip}", f"--port={port}", f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}", "--ServerApp.allow_remote_access=True",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.present.lab", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--ip", default="0.0.0.0")
    parser.add_argument("--root", type=Path, default=PROJECT_ROOT)
    args = parser.parse_args(argv)
    token = os.environ.get("JUPYTER_TOKEN", "").strip()
    if not token:
        token = secrets.token_hex(24)
        logger.warning("JUPYTER_TOKEN is not set: generated a token for this session")
    host = "localhost" if args.ip in ("0.0.0.0", "::") else args.ip
    logger.info("JupyterLab: http://%s:%d/lab?token=%s", host, args.port, token)
    command = lab_command(token, args.port, args.ip, args.root.resolve())
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # the image runs as uid 1000; CI sandboxes as root
        command.append("--allow-root")
    os.execv(command[0], command)  # replaces this process; Jupyter handles signals itself
    return 0  # not reached


if __name__ == "__main__":
    from utils.lake import logs

    logs.configure(fmt="%(asctime)s %(levelname)s %(message)s")
    sys.exit(main())
