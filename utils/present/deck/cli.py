"""The command line: ``python -m utils.present.deck [--datamart DIR] [--out PDF] [--run-id ID]``;
with ``--domain energy`` the energy deck (:mod:`.slides_energy`), and with ``--companion``
its companion document (:mod:`.companion`)."""

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
    p.add_argument("--out", type=Path, default=None,
                   help=f"PDF to write (default {DEFAULT_OUT.relative_to(PROJECT_ROOT)}; for --domain energy "
                        "deck/energy_deck.pdf, with --companion docs/energy/companion.pdf)")
    p.add_argument("--run-id", help="run to show (default: the latest successful build of the ledger)")
    p.add_argument("--domain", help="with no --run-id: the latest successful build of this domain")
    p.add_argument("--companion", action="store_true",
                   help="with --domain energy: the companion document (at most 5 A4 pages) instead of the deck")
    return p


def build_energy(datamart: Path, out: Path | None, run_id: str | None, companion: bool) -> Path:
    """The energy deck, or its companion document, of `datamart`."""
    from . import companion as doc
    from .energy_facts import gather_energy
    from .slides_energy import DEFAULT_OUT as ENERGY_OUT
    from .slides_energy import render_energy_deck

    facts = gather_energy(datamart, run_id)
    if companion:
        return doc.render_companion(facts, out or doc.DEFAULT_OUT)
    return render_energy_deck(facts, out or ENERGY_OUT)


def main(argv: list[str] | None = None) -> int:
    """Render the deck and print its path. 0 on success; 1 with one line "error: ..."
    on stderr when the datamart cannot give a deck; 2 for wrong options."""
    args = build_parser().parse_args(argv)
    try:
        if args.domain == "energy" or args.companion:
            if args.domain != "energy":
                raise DeckError("--companion needs --domain energy (the only domain with a companion document)")
            path = build_energy(args.datamart, args.out, args.run_id, args.companion)
        else:
            run_id = args.run_id or (resolve_run(args.datamart, None, args.domain)[0]["run_id"] if args.domain else None)
            path = build_deck(args.datamart, args.out or DEFAULT_OUT, run_id)
    except (DeckError, ConfigError, delta_io.DeltaIOError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0
