"""The command line: ``python -m utils.present.deck [--datamart DIR] [--out PDF] [--run-id ID]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from utils.lake import delta_io
from utils.lake.config import ConfigError
from utils.lake.paths import PROJECT_ROOT

from .facts import DeckError
from .render import DEFAULT_OUT, build_deck

DESCRIPTION = "The slide deck of a datamart's latest run: ten 16:9 slides in one PDF."

from utils.present.deck.runs import resolve_run  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m utils.present.deck``."""
    p = argparse.ArgumentParser(prog="python -m utils.present.deck", description=DESCRIPTION,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--datamart", type=Path, default=PROJECT_ROOT / "datamart", help="folder of the Delta tables")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PDF to write")
    p.add_argument("--run-id", help="run to show (default: the latest successful build of the ledger)")
    p.add_argument("--domain", help="with no --run-id: the latest successful build of this domain")
    return p


def main(argv: list[str] | None = None) -> int:
    """Render the deck and print its path. 0 on success; 1 with one line "error: ..."
    on stderr when the datamart cannot give a deck; 2 for wrong options."""
    args = build_parser().parse_args(argv)
    try:
        run_id = args.run_id or (resolve_run(args.datamart, None, args.domain)[0]["run_id"] if args.domain else None)
        path = build_deck(args.datamart, args.out, run_id)
    except (DeckError, ConfigError, delta_io.DeltaIOError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0
