"""Screenshots of the project's UIs in headless Chromium (the system's package, driven by
Playwright without any browser download), for the walkthrough and for docs/screenshots/:

    python -m utils.present.walkthrough.shots [--out docs/screenshots] [--only jupyterlab,dagster]

Each UI is started here on 127.0.0.1 and a free port, with a token where it has one, and
stopped afterwards: JupyterLab (``python -m utils.present.lab``; the shot is its file browser
in notebooks/, and the names listed there are checked) and the Dagster web server (the
asset graph; only when :mod:`utils.orchestrate` is importable). A UI that cannot be shown
is skipped with its reason in the log. Exit status: 0 when every asked UI was shot,
1 when one failed, 3 when Chromium is absent (nothing shot).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from utils.lake.paths import PROJECT_ROOT, portable_path

from . import tools

logger = logging.getLogger(__name__)

VIEWPORT = {"width": 1280, "height": 720}
UIS = ("jupyterlab", "dagster")
LOCATION = "utils.orchestrate"  # the Dagster code location: the module of the definitions
EXIT_NO_BROWSER = 3


class Unavailable(RuntimeError):
    """A UI cannot be started here (its package is absent); the reason is the message."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout_s: float = 120.0) -> None:
    """Until `url` answers 200 (raises WalkthroughError after `timeout_s` or when `proc` exits)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, urllib.error.HTTPError):
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        if proc is not None and proc.poll() is not None:
            raise tools.WalkthroughError(f"the server of {url} exited with {proc.returncode} during start-up")
        time.sleep(0.5)
    raise tools.WalkthroughError(f"{url} did not answer within {timeout_s:.0f} s")


@contextlib.contextmanager
def jupyterlab(work: Path, token: str | None = None) -> Iterator[tuple[str, str]]:
    """JupyterLab on the project folder, 127.0.0.1 and a free port: yields (base URL, token)."""
    token = token or secrets.token_hex(16)
    port = free_port()
    env = {**os.environ, "JUPYTER_TOKEN": token, "JUPYTER_RUNTIME_DIR": str(work / "rt"),
           "JUPYTER_DATA_DIR": str(work / "data"), "JUPYTER_CONFIG_DIR": str(work / "cfg")}
    proc = subprocess.Popen([sys.executable, "-m", "utils.present.lab", "--ip", "127.0.0.1", "--port", str(port)],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/api", proc)
        yield base, token
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@contextlib.contextmanager
def dagster(work: Path) -> Iterator[str]:
    """The Dagster web server of the definitions of :mod:`utils.orchestrate` on 127.0.0.1 and a
    free port, DAGSTER_HOME under `work`: yields its base URL. Raises Unavailable when the
    definitions cannot be imported here."""
    try:
        importlib.import_module("utils.orchestrate")
    except ImportError as exc:
        raise Unavailable(f"utils.orchestrate is not importable ({exc})") from exc
    home = work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dagster_webserver", "-m", "utils.orchestrate",
                             "-h", "127.0.0.1", "-p", str(port)],
                            cwd=PROJECT_ROOT, env={**os.environ, "DAGSTER_HOME": str(home)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/server_info", proc, timeout_s=180)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@contextlib.contextmanager
def browser() -> Iterator:
    """A headless Chromium page of VIEWPORT size (the system's Chromium; Playwright downloads nothing)."""
    path = tools.chromium()
    if path is None:
        raise tools.ToolsMissing(["chromium"])
    from playwright.sync_api import sync_playwright  # imported here: the walkthrough runs without it

    with sync_playwright() as p:
        chrome = p.chromium.launch(executable_path=path, headless=True)
        try:
            page = chrome.new_page(viewport=VIEWPORT)
            page.set_default_timeout(60_000)
            yield page
        finally:
            chrome.close()


try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # no browser test and no live screenshots without Playwright (requirements-dev.txt)
    PlaywrightTimeout = TimeoutError


def notebook_of(domain: str | None) -> str:
    """The notebook to open for `domain`, relative to the project: the first one of
    notebooks/<domain>/ when that folder exists, else of notebooks/."""
    folder = PROJECT_ROOT / "notebooks" / (domain or "")
    folder = folder if domain and folder.is_dir() else PROJECT_ROOT / "notebooks"
    first = min(folder.glob("*.ipynb"), default=None)
    if first is None:
        raise tools.WalkthroughError(f"{portable_path(folder)}: no notebook")
    return first.relative_to(PROJECT_ROOT).as_posix()


def _skip_dialog(page, name: str) -> None:
    """Click the button `name` of a first-visit dialog when it shows (it does not on every start)."""
    with contextlib.suppress(PlaywrightTimeout):
        page.get_by_role("button", name=name, exact=True).click(timeout=5_000)


def shoot_jupyterlab(page, base: str, token: str, out: Path, notebook: str) -> list[str]:
    """JupyterLab with the notebook's folder in its file browser and `notebook` (relative to
    the project) open, saved to `out`; the names the file browser lists."""
    page.goto(f"{base}/lab/tree/{notebook}?token={token}")
    items = page.locator(".jp-DirListing-item .jp-DirListing-itemText")
    items.filter(has_text=Path(notebook).name).first.wait_for(state="visible")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible")
    _skip_dialog(page, "No")  # JupyterLab asks once whether to fetch its news
    page.wait_for_timeout(1500)  # let the notebook finish drawing
    page.screenshot(path=str(out))
    return [t.strip() for t in items.all_inner_texts()]


def shoot_dagster(page, base: str, out: Path, group: str) -> list[str]:
    """The asset graph of the Dagster asset group `group` (a domain), saved to `out`; the
    lines of text the page shows (the asset names among them)."""
    page.goto(f"{base}/locations/{LOCATION}/asset-groups/{group}/lineage")
    _skip_dialog(page, "Skip")  # Dagster's community dialog on a first visit
    page.get_by_text("feature_store", exact=True).first.wait_for(state="visible")
    page.wait_for_timeout(2000)  # the graph lays itself out after the first nodes appear
    page.screenshot(path=str(out))
    return [t.strip() for t in page.locator("body").inner_text().splitlines() if t.strip()]


def compact(path: Path) -> Path:
    """Re-save the PNG `path` with a 256-colour palette (a UI has few colours): a third of the size."""
    from PIL import Image  # Pillow: a dependency of matplotlib

    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=256)
    small.save(path, optimize=True)
    return path


def take(out: Path, only: tuple[str, ...] = UIS, work: Path | None = None, domain: str = "loan_default") -> dict[str, Path]:
    """Screenshots of the UIs of `only` for `domain` as `out/<ui>.png`; the UIs shown (the
    others are logged with the reason). Raises ToolsMissing without Chromium, WalkthroughError
    when a UI does not show what it should."""
    out.mkdir(parents=True, exist_ok=True)
    shot: dict[str, Path] = {}
    with contextlib.ExitStack() as stack:
        work = work or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="shots-")))
        page = stack.enter_context(browser())
        try:
            if "jupyterlab" in only:
                with jupyterlab(work / "jupyter") as (base, token):
                    names = shoot_jupyterlab(page, base, token, out / "jupyterlab.png", notebook_of(domain))
                logger.info("JupyterLab lists %s", ", ".join(names))
                shot["jupyterlab"] = out / "jupyterlab.png"
            if "dagster" in only:
                try:
                    with dagster(work / "dagster") as base:
                        shoot_dagster(page, base, out / "dagster.png", domain)
                    shot["dagster"] = out / "dagster.png"
                except Unavailable as exc:
                    logger.warning("Dagster skipped: %s", exc)
        except PlaywrightTimeout as exc:
            raise tools.WalkthroughError(f"a UI did not show what it should: {exc}") from exc
    for name, path in shot.items():
        compact(path)
        logger.info("%s: %s (%d kB)", name, portable_path(path), path.stat().st_size // 1000)
    return shot


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m utils.present.walkthrough.shots", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "screenshots", help="folder of the PNG files")
    p.add_argument("--only", default=",".join(UIS), help=f"comma-separated UIs among {', '.join(UIS)}")
    p.add_argument("--domain", default="loan_default", help="the domain whose notebook and asset group are shown")
    args = p.parse_args(argv)
    only = tuple(x.strip() for x in args.only.split(",") if x.strip())
    if unknown := [x for x in only if x not in UIS]:
        p.error(f"unknown UI {', '.join(unknown)}; choose among {', '.join(UIS)}")
    try:
        shot = take(args.out, only, domain=args.domain)
    except tools.ToolsMissing as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return EXIT_NO_BROWSER
    except tools.WalkthroughError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in shot.values():
        print(portable_path(path))
    return 0 if len(shot) == len(only) else 1


if __name__ == "__main__":
    from utils.lake import logs

    logs.configure()
    sys.exit(main())
