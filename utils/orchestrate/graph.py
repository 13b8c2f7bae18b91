"""Draw the asset graph of the generated definitions (docs/orchestration_dag.png).

    python -m utils.orchestrate.graph --out docs/orchestration_dag.png [--domain D]

One cluster per domain, one node per asset (coloured by layer), an edge per dependency,
read from `utils.orchestrate.build_definitions`; Graphviz `dot` lays it out (Debian:
apt-get install graphviz). `--dot FILE` writes the DOT text only.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

COLOURS = {"landing": "#eeeeee", "bronze": "#e6c9a8", "silver": "#d9d9e6", "gold": "#f5d76e", "model": "#a8d5ba"}


def dot_source(defs, domains: list[str] | None = None) -> str:
    """The DOT text of the asset graph of `defs` (every domain, or `domains`)."""
    graph = defs.resolve_asset_graph()
    keys = sorted((k for k in graph.get_all_asset_keys() if domains is None or k.path[0] in domains),
                  key=lambda k: k.to_user_string())
    lines = ["digraph assets {", '  rankdir=LR; nodesep=0.15; ranksep=0.6;',
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];']
    for domain in sorted({k.path[0] for k in keys}):
        lines.append(f'  subgraph "cluster_{domain}" {{ label="{domain}"; fontname="Helvetica-Bold"; color="#999999";')
        for k in keys:
            if k.path[0] == domain:
                layer, name = k.path[1], k.path[-1]
                lines.append(f'    "{k.to_user_string()}" [label="{layer}/{name}", '
                             f'fillcolor="{COLOURS.get(layer, "#ffffff")}"];')
        lines.append("  }")
    for k in keys:
        for parent in sorted(graph.get(k).parent_keys, key=lambda p: p.to_user_string()):
            lines.append(f'  "{parent.to_user_string()}" -> "{k.to_user_string()}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_text: str, out: Path) -> Path:
    """Lay out `dot_text` with Graphviz into `out` (format from its suffix)."""
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError("Graphviz `dot` not found (apt-get install graphviz); use --dot to write the DOT text")
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([dot, f"-T{out.suffix.lstrip('.') or 'png'}", "-Gdpi=110", "-o", str(out)],
                   input=dot_text.encode(), check=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m utils.orchestrate.graph", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("docs/orchestration_dag.png"), help="picture to write")
    p.add_argument("--dot", type=Path, default=None, help="write the DOT text here instead of a picture")
    p.add_argument("--domain", action="append", default=None, help="only this domain (repeatable)")
    args = p.parse_args(argv)
    from utils.orchestrate.definitions import build_definitions
    from utils.orchestrate.settings import from_environment

    text = dot_source(build_definitions(from_environment()), args.domain)
    if args.dot is not None:
        args.dot.write_text(text, encoding="utf-8")
        logger.info("wrote %s", args.dot)
        return 0
    try:
        render(text, args.out)
    except RuntimeError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
