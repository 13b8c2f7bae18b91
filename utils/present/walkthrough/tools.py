"""The system tools the walkthrough drives (Debian packages, installed by .ci/run): espeak-ng
speaks, pdftoppm (poppler-utils) renders the deck's pages, ffmpeg assembles and ffprobe
measures; Chromium takes the screenshots (see ``shots``). Each call is one subprocess;
a failure raises :class:`WalkthroughError` with the tool's own message."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

#: command -> the Debian package that provides it
PACKAGES = {"espeak-ng": "espeak-ng", "ffmpeg": "ffmpeg", "ffprobe": "ffmpeg", "pdftoppm": "poppler-utils",
            "chromium": "chromium"}
VIDEO_TOOLS = ("espeak-ng", "ffmpeg", "ffprobe", "pdftoppm")
CHROMIUM_NAMES = ("chromium", "chromium-browser")


class WalkthroughError(RuntimeError):
    """A walkthrough cannot be made (a tool failed, no deck, bad options)."""


class ToolsMissing(WalkthroughError):
    """System tools are absent: the walkthrough is skipped, not failed."""

    def __init__(self, tools: Sequence[str]):
        self.tools = tuple(tools)
        packages = " ".join(dict.fromkeys(PACKAGES.get(t, t) for t in self.tools))
        super().__init__(f"{', '.join(self.tools)} not found; install them with: apt-get install -y {packages}")


def missing(tools: Sequence[str] = VIDEO_TOOLS) -> list[str]:
    """The commands of `tools` that are not on PATH."""
    return [t for t in tools if shutil.which(t) is None]


def chromium() -> str | None:
    """The path of the system's Chromium, or None."""
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def run(command: Sequence[str], *, stdin: str | None = None) -> str:
    """Run `command`; its stdout. Raises WalkthroughError with the end of stderr on failure."""
    result = subprocess.run(list(command), input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-6:])
        raise WalkthroughError(f"{command[0]} failed (exit {result.returncode}): {tail}")
    return result.stdout


def speak(text: str, wav: Path, *, voice: str = "en-us", words_per_minute: int = 165) -> Path:
    """`text` spoken by espeak-ng into the WAV file `wav` (mono, 16 bit, 22.05 kHz)."""
    run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(wav), "--stdin"], stdin=text)
    return wav


def pdf_pages(pdf: Path, folder: Path, *, last: int, width: int, height: int) -> list[Path]:
    """Pages 1..`last` of `pdf` as PNG files `folder/slide-NN.png` of `width` x `height` pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    run(["pdftoppm", "-png", "-f", "1", "-l", str(last), "-scale-to-x", str(width), "-scale-to-y", str(height),
         str(pdf), str(folder / "page")])
    pages = sorted(folder.glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    named = []
    for i, page in enumerate(pages, 1):
        named.append(page.rename(folder / f"slide-{i:02d}.png"))
    return named


def probe(path: Path) -> dict:
    """ffprobe's view of a media file: format, streams and chapters (JSON)."""
    out = run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
               "-show_chapters", str(path)])
    return json.loads(out)
