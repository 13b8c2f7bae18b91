"""The UIs in headless Chromium (Debian's package, installed by .ci/run; skipped without it):
JupyterLab answers only with its token and lists the notebooks in its file browser; the
Dagster web server draws a domain's asset graph. Screenshots go under the test's tmp_path
(the ones in docs/screenshots/ come from `python -m utils.present.walkthrough.shots`)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from utils.lake.config import load_config
from utils.present.walkthrough import shots, tools

PROJECT_ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (requirements-dev.txt)")
if tools.chromium() is None:
    pytest.skip("no system Chromium (apt-get install -y chromium; .ci/run installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def page():
    with shots.browser() as page:
        yield page


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG file, from its IHDR chunk."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG file"
    return struct.unpack(">II", data[16:24])


def test_jupyterlab_asks_for_its_token_and_lists_the_notebooks(page, tmp_path):
    notebooks = sorted(p.name for p in (PROJECT_ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "the project has notebooks to find"
    with shots.jupyterlab(tmp_path / "jupyter") as (base, token):
        page.goto(f"{base}/lab")  # no token: the login form, not the file browser
        page.locator("input[type=password]").first.wait_for(state="visible")
        assert page.locator(".jp-DirListing").count() == 0
        listed = shots.shoot_jupyterlab(page, base, token, tmp_path / "jupyterlab.png", f"notebooks/{notebooks[0]}")
    assert set(notebooks) <= set(listed)
    assert png_size(tmp_path / "jupyterlab.png") == (shots.VIEWPORT["width"], shots.VIEWPORT["height"])


def test_dagster_draws_the_asset_graph_of_a_domain(page, tmp_path):
    pytest.importorskip("utils.orchestrate", reason="utils.orchestrate (the Dagster definitions) is not importable")
    silver = set(load_config("loan_default").silver)
    with shots.dagster(tmp_path / "dagster") as base:
        shown = shots.shoot_dagster(page, base, tmp_path / "dagster.png", "loan_default")
    assert {"feature_store", "label_store"} | silver <= set(shown)
    assert png_size(tmp_path / "dagster.png") == (shots.VIEWPORT["width"], shots.VIEWPORT["height"])
