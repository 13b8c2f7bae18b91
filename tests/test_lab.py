"""JupyterLab as the compose file starts it: served over HTTP, never without a token."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from utils.present.lab import lab_command

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_lab_refuses_to_start_without_a_token():
    with pytest.raises(ValueError, match="without a token"):
        lab_command("", 8888, "127.0.0.1", PROJECT_ROOT)


def test_lab_serves_with_its_token_and_refuses_requests_without_it(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "JUPYTER_TOKEN": "t0ken-for-tests", "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    proc = subprocess.Popen([sys.executable, "-m", "utils.present.lab", "--ip", "127.0.0.1", "--port", str(port)],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if status(f"{base}/api") == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, "JupyterLab exited during start-up"
            time.sleep(0.5)
        assert status(f"{base}/api/contents") == 403
        assert status(f"{base}/api/contents?token=wrong") == 403
        assert status(f"{base}/api/contents?token=t0ken-for-tests") == 200
        assert status(f"{base}/lab?token=t0ken-for-tests") == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
