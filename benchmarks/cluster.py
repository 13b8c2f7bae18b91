"""Local vs standalone cluster vs Spark Connect: the same build timed three ways, in one
invocation (issue 19).

    python benchmarks/cluster.py                      # loan_default, one repetition
    python benchmarks/cluster.py --repeat 3           # medians of three
    python benchmarks/cluster.py --domain churn --workers 1

Starts, from the installed pyspark, a standalone master with --workers workers (1 core,
1 GB each) and a Spark Connect server (driver local[2]), all on 127.0.0.1, then for each
repetition builds the domain from its data into an empty datamart three times, each a
separate `python main.py` process: `--master local[2]`, `--master spark://...` and
`--remote sc://...`. Wall time is from starting the process to its exit, so Python,
Spark session (or Connect session) start-up and the start-of-run cluster checks are in
every number. Server start-up is timed separately and not in the builds. The three
builds of a repetition run back to back in that order. Results: <out>/cluster.json and
<out>/cluster.md (medians, min, max); logs and scratch datamarts in --work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from utils.lake import cluster  # noqa: E402
from utils.lake.paths import portable_path  # noqa: E402

logger = logging.getLogger("benchmarks.cluster")
MODES = ("local", "standalone", "connect")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--domain", default="loan_default")
    p.add_argument("--data-root", type=Path, default=None, help="the domain's data (default: the CLI's default)")
    p.add_argument("--repeat", type=int, default=1, help="repetitions of the three builds (medians over them)")
    p.add_argument("--workers", type=int, default=2, help="standalone workers, 1 core and 1 GB each")
    p.add_argument("--out", type=Path, default=PROJECT_ROOT / "benchmarks" / "results")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "lakehouse-bench-cluster")
    return p.parse_args(argv)


def build_command(args, datamart: Path, spark: list[str]) -> list[str]:
    cmd = [sys.executable, str(PROJECT_ROOT / "main.py"), "--domain", args.domain, "--datamart", str(datamart),
           "--log-level", "WARNING", *spark]
    if args.data_root:
        cmd += ["--data-root", str(args.data_root)]
    return cmd


def timed_build(args, mode: str, spark: list[str], rep: int) -> tuple[float, float]:
    """(seconds, the machine's 1-minute load average as it started) of one build into an
    empty datamart; a failed build stops the invocation."""
    datamart = args.work / f"dm-{mode}-{rep}"
    shutil.rmtree(datamart, ignore_errors=True)
    log = args.work / f"build-{mode}-{rep}.log"
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    load = round(os.getloadavg()[0], 1)
    started = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run(build_command(args, datamart, spark), env=env, stdout=out, stderr=subprocess.STDOUT,
                              cwd=PROJECT_ROOT)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{mode} build failed (exit {done.returncode}); see {log}:\n"
                         + "\n".join(log.read_text(errors="replace").splitlines()[-15:]))
    logger.info("%s build %d: %.1f s (load average %.1f at its start)", mode, rep + 1, seconds, load)
    return seconds, load


def summary(values: list[float]) -> dict:
    return {"n": len(values), "median": round(statistics.median(values), 1),
            "min": round(min(values), 1), "max": round(max(values), 1)}


def markdown(result: dict) -> str:
    lines = [f"# Local vs standalone vs Spark Connect: `{result['domain']}`", "",
             f"Measured {result['measured_at']} on {result['machine']}; {result['repeat']} repetition(s) "
             f"(medians over them); server start-up not included in the builds.", "",
             "| build | command | median s | min s | max s |", "|---|---|---|---|---|"]
    for mode in MODES:
        s = result["builds"][mode]
        lines.append(f"| {mode} | `{result['commands'][mode]}` | {s['median']} | {s['min']} | {s['max']} |")
    lines += ["", f"Server start-up: master and {result['workers']} worker(s) {result['startup_s']['standalone']} s, "
              f"Connect server {result['startup_s']['connect']} s.", ""]
    if "load_average_1m" in result:
        load = result["load_average_1m"]
        lines += [f"Load average (1 min) of the machine: {load['start']} at the start, {load['end']} at the end.", ""]
    if "runs_load_1m" in result:
        lines += ["Each build's seconds (load average at its start), in the order run: "
                  + "; ".join(f"{mode} " + ", ".join(f"{s} ({la})" for s, la in zip(result["runs_s"][mode],
                                                                                    result["runs_load_1m"][mode]))
                              for mode in MODES) + ".", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.work.mkdir(parents=True, exist_ok=True)
    servers: list[cluster.SparkServer] = []
    times: dict[str, list[float]] = {m: [] for m in MODES}
    loads: dict[str, list[float]] = {m: [] for m in MODES}
    load_start = round(os.getloadavg()[0], 1)
    try:
        started = time.monotonic()
        master = cluster.start_master(args.work / "servers")
        servers.append(master)
        for i in range(1, args.workers + 1):
            servers.append(cluster.start_worker(master, args.work / "servers", index=i))
        standalone_s = time.monotonic() - started
        started = time.monotonic()
        connect = cluster.start_connect_server(args.work / "servers", conf=cluster.connect_server_conf())
        servers.append(connect)
        connect_s = time.monotonic() - started
        spark = {"local": ["--master", "local[2]"], "standalone": ["--master", master.url],
                 "connect": ["--remote", connect.url]}
        for rep in range(args.repeat):
            for mode in MODES:
                seconds, load = timed_build(args, mode, spark[mode], rep)
                times[mode].append(seconds)
                loads[mode].append(load)
    finally:
        for server in reversed(servers):
            server.stop()
    result = {
        "domain": args.domain, "repeat": args.repeat, "workers": args.workers,
        "measured_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "data_root": portable_path(args.data_root) if args.data_root else "(default)",
        "commands": {
            "local": "python main.py --domain D --master local[2]",
            "standalone": f"python main.py --domain D --master spark://127.0.0.1:PORT ({args.workers} x 1 core, 1 GB)",
            "connect": "python main.py --domain D --remote sc://127.0.0.1:PORT (server driver local[2])",
        },
        # other work on the machine shows here: the three builds share its cores with it
        "load_average_1m": {"start": load_start, "end": round(os.getloadavg()[0], 1)},
        "startup_s": {"standalone": round(standalone_s, 1), "connect": round(connect_s, 1)},
        "builds": {m: summary(v) for m, v in times.items()},
        "runs_s": {m: [round(x, 1) for x in v] for m, v in times.items()},
        "runs_load_1m": loads,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cluster.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "cluster.md").write_text(markdown(result))
    logger.info("\n%s", markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
