"""Load benchmark of the serving API (utils/serve/api.py), on loopback only.

Reproduce (about 6 minutes of load, plus about 5 to prepare the first time):

    python benchmarks/serve_load.py --prepare
    python benchmarks/serve_load.py --datamart DIR     # a datamart with champions and an online store
    python benchmarks/serve_load.py --url http://127.0.0.1:8000 --api-key KEY --datamart DIR

`--prepare` builds a small multi-domain datamart once into ``<work>/dm`` (default work
folder: ``/tmp/lakehouse-bench/serve``): loan default from the shipped sample (data/),
churn from 300 generated customers over 8 months, recommendation from 300 generated
users over 6 months; trains and registers the churn and loan default champions (MLflow
SQLite under the datamart) and materialises the online store. Later invocations reuse it.

Then the server is started as its own process (``python -m utils.serve.api`` on
127.0.0.1, a free port, access log off) unless `--url` names one already running (it
must be a loopback address). For each endpoint and each concurrency level (`--users`,
default 4 and 16) a locust process runs headless, as a library: that many users, each
sending its next request as soon as the last one answered (no think time), all started
at once; `--warmup` seconds (5) are discarded, then `--duration` seconds (60) are
measured. The endpoints:

- ``POST /predict/churn`` and ``POST /predict/loan_default`` with ``{"entity_id": ...}``,
  the entity drawn at random from (up to) 500 of the online store's;
- ``GET /recommend/{user}?k=10``, the user drawn from (up to) 500 with events.

Any answer but 200 counts as an error. Reported per endpoint and level: requests,
errors, requests per second, p50, p99, mean and max latency (ms, locust's
histogram: two significant digits). Results go to ``benchmarks/results/serve_load.json``
(`--out`), with the machine, the commit and the load average at the start; no paths.

The server and the load generator share the machine's cores (two on the project
machine), so the numbers are those of one uvicorn process under a client on the same
machine, not of the API alone. Needs the dev requirements (locust).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORK = Path("/tmp/lakehouse-bench/serve")
DEFAULT_OUT = REPO / "benchmarks" / "results" / "serve_load.json"
ENDPOINTS = ("POST /predict/churn", "POST /predict/loan_default", "GET /recommend")
SAMPLE_IDS = 500

logger = logging.getLogger("benchmarks.serve_load")


# --------------------------------------------------------------------------- preparing a datamart


def prepare(work: Path) -> Path:
    """Build (once) the demo datamart under `work`; returns it. Runs in a child process
    of its own (Spark)."""
    from utils.cli import main as build
    from utils.domains.churn import synthetic as churn_synthetic
    from utils.domains.recommendation import synthetic as reco_synthetic
    from utils.lake.config import load_config
    from utils.ml import tracking, train
    from utils.serve import online_store

    datamart = work / "dm"
    if (work / "prepared.json").is_file():
        return datamart
    start = dt.date(2024, 1, 1)
    builds = [("loan_default", REPO / "data"), ("churn", work / "data" / "churn"),
              ("recommendation", work / "data" / "reco")]
    churn_synthetic.generate(work / "data" / "churn", 300, 11, start=start, months=8)
    reco_synthetic.generate(work / "data" / "reco", 300, 5, start=start, months=6)
    for domain, data in builds:
        if build(["--domain", domain, "--data-root", str(data), "--datamart", str(datamart), "--master", "local[2]"]):
            raise SystemExit(f"the {domain} build failed")
    for domain, holdout in (("churn", 2), ("loan_default", 6)):
        gold = load_config(domain).gold
        result = train.train(None, datamart, holdout_months=holdout, domain=domain, baseline=gold.baseline)
        tracking.log_training(result, datamart)
    online_store.materialize(datamart, ["churn", "loan_default"])
    (work / "prepared.json").write_text(json.dumps({"at": dt.datetime.now(dt.UTC).isoformat()}) + "\n")
    return datamart


def sample_ids(datamart: Path, tracking_uri: str | None, online_url: str | None) -> dict[str, list[str]]:
    """Entity ids the load draws from: per classification domain, entities the online
    store holds; for recommendation, users with events. Child process (reads Delta)."""
    from deltalake import DeltaTable

    from utils.lake.config import load_config
    from utils.lake.datamart import Datamart
    from utils.ml.feature_store import latest_features
    from utils.serve import online_store

    store = online_store.open_store(online_url or online_store.default_url(datamart))
    ids: dict[str, list[str]] = {}
    try:
        for domain in ("churn", "loan_default"):
            entity = load_config(domain).gold.entity
            frame = latest_features(domain, dt.date(2100, 1, 1), datamart=datamart, features=[])
            candidates = frame[entity].astype(str).tolist()
            ids[domain] = [e for e in candidates[: SAMPLE_IDS * 2] if store.get(domain, e) is not None][:SAMPLE_IDS]
    finally:
        store.close()
    rec = load_config("recommendation").gold.recommend
    table = rec.events[0][0]
    users = DeltaTable(str(Datamart(datamart, "recommendation").table("silver", table))).to_pandas(columns=[rec.user])
    ids["recommendation"] = sorted(users[rec.user].dropna().astype(str).unique())[:SAMPLE_IDS]
    return ids


# --------------------------------------------------------------------------- one load run (child process)


def run_locust(spec: dict) -> dict:
    """One headless locust run of `spec` (url, key, endpoint, users, warmup, duration,
    ids); returns its statistics. Imports locust (gevent patches this process)."""
    import random

    import gevent
    from locust import FastHttpUser, constant, task
    from locust.env import Environment

    endpoint, ids, key = spec["endpoint"], spec["ids"], spec["key"]
    method, path = endpoint.split(" ", 1)

    class Client(FastHttpUser):
        host = spec["url"]
        wait_time = constant(0)

        @task
        def call(self) -> None:
            if method == "POST":
                domain = path.rsplit("/", 1)[1]
                self.client.post(path, json={"entity_id": random.choice(ids[domain])}, headers={"X-API-Key": key},
                                 name=endpoint)
            else:
                self.client.get(f"/recommend/{random.choice(ids['recommendation'])}?k=10",
                                headers={"X-API-Key": key}, name=endpoint)

    env = Environment(user_classes=[Client])
    runner = env.create_local_runner()
    runner.start(spec["users"], spawn_rate=spec["users"])
    gevent.sleep(spec["warmup"])
    env.stats.reset_all()
    began = time.monotonic()
    gevent.sleep(spec["duration"])
    elapsed = time.monotonic() - began
    entry = env.stats.get(endpoint, method)
    result = {
        "endpoint": endpoint, "users": spec["users"], "seconds": round(elapsed, 1),
        "requests": entry.num_requests, "errors": entry.num_failures,
        "rps": round(entry.num_requests / elapsed, 1),
        "p50_ms": entry.get_response_time_percentile(0.5), "p99_ms": entry.get_response_time_percentile(0.99),
        "mean_ms": round(entry.avg_response_time, 1), "max_ms": round(entry.max_response_time, 1),
        "error_kinds": sorted({str(e.error)[:200] for e in env.stats.errors.values()})[:5],
    }
    runner.quit()
    return result


# --------------------------------------------------------------------------- the driver


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _loopback_url(url: str) -> bool:
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _wait_healthy(url: str, server: subprocess.Popen | None, timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode} while starting (see its log)")
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url}/health did not answer within {timeout_s} s")


def _child(flag: str, payload: dict) -> dict:
    """Run this file with `flag` and a JSON payload in a fresh interpreter; its JSON answer."""
    done = subprocess.run([sys.executable, __file__, flag, json.dumps(payload)], cwd=REPO, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{flag} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _machine() -> dict:
    def git(*args: str) -> str:
        out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False)
        return out.stdout.strip()

    from importlib import metadata

    return {"cpu_logical": os.cpu_count(), "python": platform.python_version(), "os": platform.system(),
            "load_average_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
            "versions": {p: metadata.version(p) for p in ("fastapi", "uvicorn", "locust", "scikit-learn", "mlflow")}}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python benchmarks/serve_load.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--prepare", action="store_true", help="build the demo datamart under --work (once)")
    p.add_argument("--work", type=Path, default=DEFAULT_WORK, help="scratch folder: demo datamart, server log")
    p.add_argument("--datamart", type=Path, default=None, help="datamart to serve (default with --prepare: <work>/dm)")
    p.add_argument("--tracking-uri", default=None, help="MLflow registry (default: the datamart's)")
    p.add_argument("--online-store", default=None, help="online store URL (default: the datamart's)")
    p.add_argument("--url", default=None, help="a running server on loopback (default: start one)")
    p.add_argument("--api-key", default=None, help="its key (default: env LAKEHOUSE_API_KEY)")
    p.add_argument("--users", type=int, nargs="+", default=[4, 16], help="concurrency levels")
    p.add_argument("--duration", type=float, default=60.0, help="measured seconds per endpoint and level")
    p.add_argument("--warmup", type=float, default=5.0, help="discarded seconds before each measurement")
    p.add_argument("--endpoints", nargs="+", default=list(ENDPOINTS), choices=ENDPOINTS, metavar="ENDPOINT")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON")
    p.add_argument("--_prepare", dest="child_prepare", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_ids", dest="child_ids", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_locust", dest="child_locust", default=None, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child_prepare or args.child_ids or args.child_locust:  # the child processes answer one JSON line
        sys.path.insert(0, str(REPO))
        if args.child_prepare:
            answer = {"datamart": str(prepare(Path(json.loads(args.child_prepare)["work"])))}
        elif args.child_ids:
            spec = json.loads(args.child_ids)
            answer = sample_ids(Path(spec["datamart"]), spec["tracking_uri"], spec["online_url"])
        else:
            answer = run_locust(json.loads(args.child_locust))
        sys.stdout.write(json.dumps(answer) + "\n")
        return 0

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    if args.url is not None and not _loopback_url(args.url):
        raise SystemExit(f"--url {args.url}: only loopback addresses (127.0.0.0/8, ::1, localhost) are load-tested")
    args.work.mkdir(parents=True, exist_ok=True)
    machine = _machine()
    datamart = args.datamart
    if args.prepare:
        logger.info("preparing the demo datamart under %s (once; a few minutes)", args.work)
        datamart = Path(_child("--_prepare", {"work": str(args.work)})["datamart"])
    if datamart is None:
        raise SystemExit("give --datamart (entities are drawn from it) or --prepare")
    ids = _child("--_ids", {"datamart": str(datamart.resolve()), "tracking_uri": args.tracking_uri,
                            "online_url": args.online_store})
    logger.info("entities: %s", ", ".join(f"{d} {len(v)}" for d, v in ids.items()))

    server, url, key = None, args.url, args.api_key or os.environ.get("LAKEHOUSE_API_KEY")
    if url is None:
        key = key or secrets.token_urlsafe(32)
        port = _free_port()
        command = [sys.executable, "-m", "utils.serve.api", "--datamart", str(datamart), "--port", str(port),
                   "--no-access-log"]
        command += ["--tracking-uri", args.tracking_uri] if args.tracking_uri else []
        command += ["--online-store", args.online_store] if args.online_store else []
        log = (args.work / "server.log").open("w")
        server = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                  env={**os.environ, "LAKEHOUSE_API_KEY": key})
        url = f"http://127.0.0.1:{port}"
    if not key:
        raise SystemExit("give --api-key or env LAKEHOUSE_API_KEY for --url")
    results = []
    try:
        _wait_healthy(url, server, 300.0)
        logger.info("server %s ready", url)
        for users in args.users:
            for endpoint in args.endpoints:
                logger.info("%s, %d users: %g s warm-up, %g s measured", endpoint, users, args.warmup, args.duration)
                row = _child("--_locust", {"url": url, "key": key, "endpoint": endpoint, "users": users,
                                           "warmup": args.warmup, "duration": args.duration, "ids": ids})
                logger.info("  %d requests, %d errors, %.1f req/s, p50 %s ms, p99 %s ms", row["requests"],
                            row["errors"], row["rps"], row["p50_ms"], row["p99_ms"])
                results.append(row)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    report = {"generated_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
              "command": "python benchmarks/serve_load.py " + ("--prepare" if args.prepare else "--datamart DIR"),
              "server": "started by the benchmark" if server is not None else "given by --url",
              "duration_s": args.duration, "warmup_s": args.warmup, "users": args.users,
              "machine": machine, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    logger.info("wrote %s", args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out.name)
    header = f"{'endpoint':<28} {'users':>5} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
    lines = [header] + [f"{r['endpoint']:<28} {r['users']:>5} {r['rps']:>7.1f} {r['p50_ms']:>7} {r['p99_ms']:>7} "
                        f"{r['errors']:>6}" for r in results]
    print("\n".join(lines))  # the one thing this tool prints: the table
    return 0


if __name__ == "__main__":
    sys.exit(main())
