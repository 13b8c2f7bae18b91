"""The MLflow UI service (utils.serve.mlflow_ui): a real `mlflow server` with the
basic-auth app on 127.0.0.1 and a free port, over a datamart's embedded store; nothing
readable without the admin password."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from utils.serve import mlflow_ui

pytest.importorskip("flask_wtf", reason="the MLflow basic-auth app needs Flask-WTF (pip install mlflow[auth])")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mlflow_ui_requires_the_admin_password(tmp_path, monkeypatch):
    monkeypatch.delenv(mlflow_ui.PASSWORD_ENV, raising=False)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "utils.serve.mlflow_ui", "--datamart", str(tmp_path),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "mlflow server did not answer /health in 90 s"
            time.sleep(0.5)
        password = (tmp_path / "_mlflow" / "admin_password").read_text().strip()
        search = f"{base}/api/2.0/mlflow/experiments/search?max_results=10"
        assert httpx.get(search, timeout=10).status_code == 401
        assert httpx.get(search, auth=("admin", "wrong"), timeout=10).status_code == 401
        ok = httpx.get(search, auth=("admin", password), timeout=10)
        assert ok.status_code == 200 and "experiments" in ok.json()
        assert (tmp_path / "_mlflow" / "admin_password").stat().st_mode & 0o077 == 0
        server = psutil.Process(proc.pid).children(recursive=True)
        assert any("mlflow" in " ".join(c.cmdline()) for c in server)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    # stopping the wrapper stops the server it started and that server's workers
    _, alive = psutil.wait_procs(server, timeout=20)
    assert not alive, [" ".join(p.cmdline())[:120] for p in alive]
    assert proc.returncode == 130
