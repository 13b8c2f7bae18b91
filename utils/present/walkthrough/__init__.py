"""The walkthrough video of a domain's run, generated rather than recorded:

    python main.py walkthrough --domain D [--out PATH] [--max-slides N] [--shots DIR]
    python -m utils.present.walkthrough.shots --out docs/screenshots   (the UI screenshots alone)

* ``script``: the narration, one chapter per slide of the deck and per UI screenshot,
  written from the run's facts (:func:`utils.present.deck.gather_facts`); also as
  Markdown and SubRip beside the video. Pure text.
* ``shots``: the UIs (JupyterLab, the Dagster web server) started on 127.0.0.1 and shot in
  the system's headless Chromium through Playwright.
* ``tools``: the Debian tools it drives (espeak-ng, pdftoppm, ffmpeg, ffprobe, chromium).
* ``assemble``: every sentence spoken, one narration track, one ffmpeg call for the MP4
  (H.264 + AAC, 1280x720, a progress bar, chapters from ffmetadata).
* ``cli``: the command line; exit 3 when a tool is absent (skipped, not failed).

May import :mod:`utils.lake` and :mod:`utils.present.deck`; nothing imports it but the CLI.
"""

from __future__ import annotations

from .cli import EXIT_SKIPPED, Walkthrough, build_parser, main, make_walkthrough  # noqa: F401
from .script import Chapter, build_script, speakable  # noqa: F401
