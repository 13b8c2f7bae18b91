"""The command line: ``python main.py walkthrough --domain D [--out PATH] [--max-slides N]``
(= ``python -m utils.present.walkthrough``). Exit status: 0 the video was written; 1 it
could not be made (one line "error: ..." on stderr); 2 wrong options; 3 skipped because
espeak-ng, ffmpeg or pdftoppm is absent (one line "skipped: ..." naming the packages)."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from utils.lake import delta_io
from utils.lake.config import ConfigError
from utils.lake.paths import PROJECT_ROOT, portable_path
from utils.present.deck import MAX_SLIDES, DeckError, gather_facts, render_deck, resolve_run

from . import assemble, tools
from .script import UI_CHAPTERS, build_script, write_script

logger = logging.getLogger(__name__)

DESCRIPTION = ("The walkthrough video of a domain's latest run: the deck's slides and screenshots of the UIs, "
               "narrated by espeak-ng from the run's numbers, assembled by ffmpeg into an MP4 with chapters.")
EXIT_SKIPPED = 3
FULL_LENGTH_S = (5 * 60, 10 * 60)  # what the course briefs ask of a demo


@dataclass(frozen=True)
class Walkthrough:
    """What was written: the video, its script (Markdown, SubRip), its chapters and measures."""

    video: Path
    markdown: Path
    subtitles: Path
    chapters: tuple[str, ...]
    duration_s: float
    size_bytes: int
    build_s: float


def default_out(datamart: Path, domain: str) -> Path:
    return datamart / "_walkthrough" / f"{domain}_walkthrough.mp4"


def screenshots(args, work: Path, domain: str) -> dict[str, Path]:
    """The UI screenshots to show: from --shots DIR, none with --no-ui, else taken now
    (skipped with a warning without Chromium, or when a UI fails to start)."""
    if args.no_ui:
        return {}
    if args.shots is not None:
        found = {name: args.shots / f"{name}.png" for name in UI_CHAPTERS if (args.shots / f"{name}.png").is_file()}
        if not found:
            raise tools.WalkthroughError(f"{args.shots}: none of {', '.join(f'{n}.png' for n in UI_CHAPTERS)}")
        return found
    from . import shots  # imported here, so `python -m utils.present.walkthrough.shots` runs it cleanly

    try:
        return shots.take(work / "shots", work=work / "servers", domain=domain)
    except tools.WalkthroughError as exc:
        logger.warning("the walkthrough goes on without screenshots of the UIs: %s", exc)
        return {}


def make_walkthrough(args) -> Walkthrough:
    """Gather the run's facts, render the deck and its pages, take or find the screenshots,
    speak the script and assemble the video."""
    started = time.monotonic()
    if absent := tools.missing():
        raise tools.ToolsMissing(absent)
    run_id = args.run_id or resolve_run(args.datamart, None, args.domain)[0]["run_id"]
    facts = gather_facts(args.datamart, run_id)
    out = args.out or default_out(args.datamart, facts.run.domain)
    with tempfile.TemporaryDirectory(prefix="walkthrough-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        pdf = render_deck(facts, work / "deck.pdf")
        pages = tools.pdf_pages(pdf, work / "pages", last=args.max_slides, width=assemble.WIDTH,
                                height=assemble.HEIGHT)
        shot = screenshots(args, work, facts.run.domain)
        chapters = build_script(facts, len(pages), tuple(shot))
        images = {f"slide-{i:02d}": page for i, page in enumerate(pages, 1)} | shot
        timeline = assemble.narrate(chapters, work / "speech", work / "narration.wav",
                                    voice=args.voice, words_per_minute=args.wpm)
        title = f"{facts.title}: walkthrough"
        assemble.render_video(chapters, [images[c.image] for c in chapters], work / "narration.wav", timeline,
                              out, work, title)
    md, srt = out.with_suffix(".md"), out.with_suffix(".srt")
    write_script(chapters, timeline.sentences, md, srt, facts.title)
    if len(pages) == MAX_SLIDES and not FULL_LENGTH_S[0] <= timeline.duration <= FULL_LENGTH_S[1]:
        logger.warning("the walkthrough lasts %.0f s, outside the %d..%d s a demo should last",
                       timeline.duration, *FULL_LENGTH_S)
    return Walkthrough(out, md, srt, tuple(c.title for c in chapters), timeline.duration, out.stat().st_size,
                       time.monotonic() - started)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python main.py walkthrough", description=DESCRIPTION,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--domain", help="the latest successful build of this domain (default: the latest of any)")
    p.add_argument("--datamart", type=Path, default=PROJECT_ROOT / "datamart", help="folder of the Delta tables")
    p.add_argument("--run-id", help="run to show (default: the latest successful build)")
    p.add_argument("--out", type=Path, default=None,
                   help="MP4 to write, its script beside it as .md and .srt "
                        "(default: <datamart>/_walkthrough/<domain>_walkthrough.mp4)")
    p.add_argument("--max-slides", type=int, default=MAX_SLIDES, help="the first N slides of the deck only")
    p.add_argument("--shots", type=Path, default=None,
                   help=f"folder of UI screenshots to reuse ({', '.join(f'{n}.png' for n in UI_CHAPTERS)}) "
                        "instead of taking them now, e.g. docs/screenshots")
    p.add_argument("--no-ui", action="store_true", help="slides only: no screenshots of the UIs")
    p.add_argument("--voice", default="en-us", help="espeak-ng voice")
    p.add_argument("--wpm", type=int, default=165, help="speaking rate, words per minute")
    p.add_argument("--work", type=Path, default=None, help="keep the intermediate files (pages, WAVs) here")
    return p


def main(argv: list[str] | None = None) -> int:
    """Make the walkthrough and print where it is, how long and how big."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 1 <= args.max_slides <= MAX_SLIDES:
        parser.error(f"--max-slides must be 1..{MAX_SLIDES}")
    console = Console(stderr=False)
    try:
        made = make_walkthrough(args)
    except tools.ToolsMissing as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return EXIT_SKIPPED
    except (tools.WalkthroughError, DeckError, ConfigError, delta_io.DeltaIOError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    console.print(f"walkthrough: {portable_path(made.video)} ({made.duration_s / 60:.1f} min, "
                  f"{made.size_bytes / 1e6:.1f} MB, {len(made.chapters)} chapters, made in {made.build_s:.0f} s)")
    console.print(f"script: {portable_path(made.markdown)}, subtitles: {portable_path(made.subtitles)}")
    return 0
