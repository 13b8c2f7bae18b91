"""The MLflow UI of a datamart behind a login: ``mlflow server`` with MLflow's basic-auth
app over the datamart's embedded store.

    python -m utils.serve.mlflow_ui [--datamart DIR] [--host 127.0.0.1] [--port 5000]

The tracking store is ``<datamart>/_mlflow/mlflow.db`` (where ``python main.py train``
logs), the users in ``<datamart>/_mlflow/basic_auth.db``. The admin user is ``admin``;
its password is ``$MLFLOW_AUTH_ADMIN_PASSWORD`` when set (use it in .env for Docker),
otherwise generated once, logged once and kept in ``<datamart>/_mlflow/admin_password``
(mode 600), like the notebook token. Other users get READ on everything by default.
Bound to 127.0.0.1 unless told otherwise.

Why a wrapper rather than the bare command: MLflow reads the auth settings from an ini
file whose user store defaults to a path relative to the working directory, and it
refuses to start without an admin password; this writes the ini under the datamart and
supplies the password and the CSRF secret.

Stopping: ``mlflow server`` starts a web server and a job runner with workers of their
own. The wrapper runs it in a process group of its own and, on SIGTERM or Ctrl-C (e.g.
``docker compose stop``), stops the whole group, so no server process outlives it.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from utils.lake.paths import PROJECT_ROOT

logger = logging.getLogger(__name__)

ADMIN = "admin"
PASSWORD_ENV = "MLFLOW_AUTH_ADMIN_PASSWORD"


def _secret(path: Path, env: str | None) -> tuple[str, bool]:
    """(value, generated now): from the environment, else the file, else a new one saved there."""
    if env and os.environ.get(env):
        return os.environ[env], False
    if path.is_file():
        return path.read_text(encoding="utf-8").strip(), False
    value = secrets.token_urlsafe(24)
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)
    return value, True


def prepare(datamart: str | Path) -> tuple[dict[str, str], list[str]]:
    """The environment and the ``mlflow server`` arguments (without host and port)."""
    folder = Path(datamart).resolve() / "_mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    password, generated = _secret(folder / "admin_password", PASSWORD_ENV)
    secret, _ = _secret(folder / "flask_secret", "MLFLOW_FLASK_SERVER_SECRET_KEY")
    ini = folder / "basic_auth.ini"
    ini.write_text("\n".join([
        "[mlflow]", "default_permission = READ", f"database_uri = sqlite:///{folder / 'basic_auth.db'}",
        f"admin_username = {ADMIN}", "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
        "grant_default_workspace_access = false", ""]), encoding="utf-8")
    if generated:
        logger.warning("MLflow UI admin password (user %s), shown once, kept in %s: %s", ADMIN,
                       folder / "admin_password", password)
    env = {**os.environ, "MLFLOW_AUTH_CONFIG_PATH": str(ini), PASSWORD_ENV: password,
           "MLFLOW_FLASK_SERVER_SECRET_KEY": secret}
    args = ["server", "--app-name", "basic-auth", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
            "--default-artifact-root", (folder / "artifacts").as_uri(), "--workers", "1"]
    return env, args


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m utils.serve.mlflow_ui", description=__doc__.split("\n\n")[0])
    p.add_argument("--datamart", type=Path, default=PROJECT_ROOT / "datamart", help="folder of the datamart")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    p.add_argument("--port", type=int, default=5000, help="port (default %(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    from utils.lake import logs

    logs.configure()
    args = build_parser().parse_args(argv)
    env, mlflow_args = prepare(args.datamart)
    command = [sys.executable, "-m", "mlflow", *mlflow_args, "--host", args.host, "--port", str(args.port),
               "--allowed-hosts", f"{args.host}:{args.port},localhost:{args.port},127.0.0.1:{args.port}"]
    logger.info("MLflow UI on http://%s:%d (user %s)", args.host, args.port, ADMIN)
    group = hasattr(os, "killpg")
    server = subprocess.Popen(command, env=env, start_new_session=group)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        return server.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        if server.poll() is None or group:
            _stop(server, group)


def _stop(server: subprocess.Popen, group: bool, timeout_s: float = 15.0) -> None:
    """Stop `server` and every process of its group (its web server and job runner):
    SIGTERM, then SIGKILL after `timeout_s`."""
    def send(sig: int) -> None:
        try:
            if group:
                os.killpg(server.pid, sig)
            elif sig == signal.SIGTERM:
                server.terminate()
            else:
                server.kill()
        except ProcessLookupError:  # already gone
            pass

    send(signal.SIGTERM)
    try:
        server.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        logger.warning("mlflow server did not stop in %.0f s; killing it", timeout_s)
        send(signal.SIGKILL)
        server.wait()


if __name__ == "__main__":
    raise SystemExit(main())
