"""Benchmarks of the lakehouse build, all in one invocation (issue 7).

    python benchmarks/run.py                 # every case, default repetitions (about an hour)
    python benchmarks/run.py --quick         # sample data, one repetition (a few minutes)
    python benchmarks/run.py --only full,nochange --repeat 5

Cases, each measured as separate processes started from here:

full         `python main.py` on the CS611 files into an empty datamart
incremental  the datamart of the CS611 files without their last month (built first, not
             timed), then the run on the full files that adds that month (timed)
nochange     a rerun on unchanged inputs (on the datamart the full build left)
floor        the I/O floor: DuckDB reads the same CSVs and writes them as Parquet
             partitioned by snapshot_date
scale        synthetic data from `utils.domains.loan_default.synthetic` at x1, x10, x40 the CS611 size
             (customers): a full build and the DuckDB floor at each size

For every process: wall time, and the peak of the summed resident memory (RSS) of the
process and all its descendants (the Spark JVM is a child of the Python driver), sampled
every 0.2 s with psutil; also the CPU seconds of the tree. A command that fails stops the
invocation with its exit code and the end of its stderr; what was measured so far is
still written. Outputs in --out: results.json (every repetition), results.md (machine
description and the summary table) and scale.png (the scale curve).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import logging
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

logger = logging.getLogger("benchmarks")

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python benchmarks/run.py` from anywhere: the project's utils
    sys.path.insert(0, str(REPO))
DEFAULT_CS611 = REPO.parent / "shared" / "datasets" / "cs611"
SAMPLE_DATA = REPO / "data"
DEFAULT_WORK = Path("/tmp/lakehouse-bench")
DEFAULT_OUT = REPO / "benchmarks" / "results"

#: The four source files of the loan-default domain (conf/loan_default.yaml).
CSV_FILES = ("lms_loan_daily.csv", "features_attributes.csv", "features_financials.csv", "feature_clickstream.csv")
#: The date column of every source, and the partition column of every table.
DATE_COLUMN = "snapshot_date"
#: Customers in CS611 and in the shipped sample (utils.domains.loan_default.synthetic: CS611_CUSTOMERS, DEFAULT_CUSTOMERS).
CS611_CUSTOMERS = 12_500
SAMPLE_CUSTOMERS = 1_500

GB = 1e9  # decimal gigabytes, as in the targets
CASES = ("full", "profile", "incremental", "nochange", "floor", "scale")
INTERVAL_S = 0.2
HEARTBEAT_S = 60.0


@dataclass(frozen=True)
class Target:
    """An upper bound on the median wall time and/or the median peak memory of a case."""

    wall_s: float | None = None
    peak_gb: float | None = None

    def describe(self) -> str:
        parts = []
        if self.wall_s is not None:
            parts.append(f"≤ {self.wall_s:g} s" if self.wall_s < 120 else f"≤ {_duration(self.wall_s)}")
        if self.peak_gb is not None:
            parts.append(f"≤ {self.peak_gb:g} GB")
        return ", ".join(parts) or "–"

    def met(self, wall_s: float, peak_gb: float) -> bool:
        return (self.wall_s is None or wall_s <= self.wall_s) and (self.peak_gb is None or peak_gb <= self.peak_gb)


#: Targets of issue 7, on medians. Keys are case keys (see Case.key).
TARGETS = {
    "full": Target(wall_s=60, peak_gb=3),
    "incremental": Target(wall_s=20),
    "nochange": Target(wall_s=12),
    "scale-build-x40": Target(wall_s=12 * 60, peak_gb=8),
}
#: Build time may grow no worse than linearly from x10 to x40.
GROWTH = (10.0, 40.0)


class BenchmarkError(RuntimeError):
    """A measured or preparatory command failed; the message says which and why."""


# --------------------------------------------------------------------------- measuring


@dataclass
class Measurement:
    """One process run: wall time, peak RSS of its whole process tree, CPU seconds."""

    command: list[str]
    wall_s: float
    peak_rss_bytes: int
    cpu_s: float
    exit_code: int
    samples: int
    #: at the peak sample: process name -> number of processes and their summed RSS
    peak_by_process: dict = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""

    @property
    def peak_gb(self) -> float:
        return self.peak_rss_bytes / GB


def is_unexeced_fork(name: str, exe: str, parent_name: str, parent_exe: str) -> bool:
    """A child caught between fork and exec: it runs its parent's executable but carries
    the name of the thread that forked it (the JVM spawns helpers from threads such as
    "Executor task launch worker"). It shares the parent's memory, so it must not count
    again."""
    return bool(exe) and exe == parent_exe and name != parent_name


def tree_rss(root: psutil.Process) -> tuple[int, dict[psutil.Process, int]]:
    """Summed RSS in bytes of `root` and all its descendants, and each one's RSS.

    Pages shared between processes (e.g. forked Python workers) count once per process,
    so this is an upper bound of the physical memory the tree holds; a child caught
    between fork and exec counts 0 (see is_unexeced_fork). Processes that end between
    listing and reading count 0."""
    try:
        procs = [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return 0, {}
    identity: dict[int, tuple[str, str]] = {}
    each = {}
    for p in procs:
        try:
            with p.oneshot():
                rss, name, ppid = p.memory_info().rss, p.name(), p.ppid()
                try:
                    exe = p.exe()
                except psutil.AccessDenied:
                    exe = ""
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            each[p] = 0
            continue
        identity[p.pid] = (name, exe)
        parent = identity.get(ppid)  # parents come before their children in the listing
        each[p] = 0 if parent and is_unexeced_fork(name, exe, *parent) else rss
    return sum(each.values()), each


def _by_name(each: dict[psutil.Process, int]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for p, rss in each.items():
        try:
            name = p.name()
        except psutil.Error:
            name = "?"
        entry = out.setdefault(name, {"processes": 0, "rss_bytes": 0})
        entry["processes"] += 1
        entry["rss_bytes"] += rss
    return out


def _kill_tree(procs: Iterable[psutil.Process]) -> None:
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass


def _cpu_seconds(p: psutil.Process) -> float | None:
    try:
        t = p.cpu_times()
    except psutil.Error:
        return None
    return t.user + t.system


def measure(
    command: Sequence[str],
    *,
    cwd: Path = REPO,
    log_stem: Path | None = None,
    interval: float = INTERVAL_S,
    heartbeat: float = HEARTBEAT_S,
    env: dict[str, str] | None = None,
) -> Measurement:
    """Run `command` to its end while sampling its process tree every `interval` seconds.

    stdout and stderr go to `<log_stem>.out` / `.err` (or are discarded). Wall time runs
    from the start of the process to its exit; after that the leftover descendants (e.g.
    a JVM shutting down) are waited for, untimed, so they do not disturb the next run.
    CPU seconds (user + system, a lower bound): the larger of two lower bounds, the sum
    over the tree's processes of their last sampled CPU time, and the exact CPU time of
    the process and of the descendants it reaped."""
    command = [str(c) for c in command]
    if log_stem is not None:
        log_stem.parent.mkdir(parents=True, exist_ok=True)
        out_path, err_path = log_stem.with_suffix(".out"), log_stem.with_suffix(".err")
    else:
        out_path = err_path = Path(os.devnull)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak, samples, peak_by = 0, 0, {}
    seen: dict[int, psutil.Process] = {}
    cpu: dict[int, float] = {}
    with out_path.open("wb") as out, err_path.open("wb") as err:
        began = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, env=env)
        try:
            root = psutil.Process(proc.pid)
            next_beat = began + heartbeat
            while True:
                rss, procs = tree_rss(root)
                for p in procs:
                    seen.setdefault(p.pid, p)
                    used = _cpu_seconds(p)
                    if used is not None:
                        cpu[p.pid] = used
                if rss > peak:
                    peak, peak_by = rss, _by_name(procs)
                samples += 1
                try:
                    code = proc.wait(timeout=interval)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.perf_counter() >= next_beat:
                    logger.info("    ... running for %s; process tree now %.2f GB, peak %.2f GB",
                                _duration(time.perf_counter() - began), rss / GB, peak / GB)
                    next_beat += heartbeat
        except BaseException:  # interrupted: do not leave our processes behind
            _kill_tree([*seen.values()])
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    reaped_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    total_cpu = max(reaped_cpu, sum(cpu.values()))
    psutil.wait_procs([p for pid, p in seen.items() if pid != proc.pid and p.is_running()], timeout=30)
    return Measurement(
        command=command, wall_s=wall, peak_rss_bytes=peak, cpu_s=total_cpu, exit_code=code, samples=samples,
        peak_by_process=peak_by,
        stdout=str(out_path) if log_stem else "", stderr=str(err_path) if log_stem else "",
    )


def tail(path: str | Path, lines: int = 25) -> str:
    """The last `lines` lines of a text file ('' when there is none)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def check_exit(m: Measurement, what: str) -> None:
    """Raise BenchmarkError with the end of stderr when the command failed."""
    if m.exit_code != 0:
        raise BenchmarkError(
            f"{what} failed with exit code {m.exit_code}: {shlex.join(m.command)}\n"
            f"--- last lines of {m.stderr or 'stderr'} ---\n{tail(m.stderr) if m.stderr else ''}"
        )


def summarize(values: Sequence[float]) -> dict[str, float | int]:
    """Median, min, max and count of the repetitions of one quantity."""
    if not values:
        raise ValueError("no values to summarize")
    return {"n": len(values), "median": statistics.median(values), "min": min(values), "max": max(values)}


# --------------------------------------------------------------------------- data


def _month(value: str) -> str:
    """'YYYY-MM' of an ISO date; ValueError for anything else."""
    return dt.date.fromisoformat(value.strip()).isoformat()[:7]


def _date_index(header: str, path: Path) -> int:
    names = next(csv.reader([header]))
    try:
        return names.index(DATE_COLUMN)
    except ValueError:
        raise ValueError(f"{path}: no {DATE_COLUMN} column in the header") from None


def last_month(paths: Iterable[Path]) -> str:
    """The latest 'YYYY-MM' of `snapshot_date` over all rows of the CSV files."""
    latest = ""
    for path in paths:
        with path.open(encoding="utf-8", newline="") as f:
            i = _date_index(f.readline(), path)
            for row in csv.reader(f):
                if row:
                    latest = max(latest, _month(row[i]))
    if not latest:
        raise ValueError("no dated rows")
    return latest


def write_without_month(src: Path, dst: Path, month: str) -> tuple[int, int]:
    """Copy the CSV `src` to `dst` without the rows whose snapshot_date falls in `month`
    ('YYYY-MM'). Every other line is kept byte for byte, in order. Files hold one record
    per line (as the pipeline requires). Returns (rows kept, rows dropped)."""
    kept = dropped = 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    with src.open(encoding="utf-8", newline="") as f, dst.open("w", encoding="utf-8", newline="") as out:
        header = f.readline()
        out.write(header)
        i = _date_index(header, src)
        for line in f:
            row = next(csv.reader([line]), None)
            if row and _month(row[i]) == month:
                dropped += 1
                continue
            out.write(line)
            kept += 1
    return kept, dropped


def resolve_cs611(path: Path | None, quick: bool) -> tuple[Path, bool]:
    """(folder of the CS611 files, True when it is the real CS611 data). --quick and a
    missing folder both fall back to the shipped sample."""
    if quick:
        return SAMPLE_DATA, False
    folder = (path or DEFAULT_CS611).resolve()
    missing = [f for f in CSV_FILES if not (folder / f).is_file()]
    if missing:
        logger.warning("CS611 data not found in %s (missing %s); falling back to the sample data in %s. "
                       "The targets are set for CS611, so compare with care.", folder, ", ".join(missing), SAMPLE_DATA)
        return SAMPLE_DATA, False
    return folder, True


def ensure_synthetic(folder: Path, customers: int) -> Path:
    """Generated files for `customers` customers in `folder`, made once and reused (the
    generator is deterministic). Generation is not measured."""
    done = folder / ".complete"
    if done.is_file() and done.read_text().strip() == str(customers):
        logger.info("synthetic data for %s customers: reusing %s", f"{customers:,}", folder)
        return folder
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    logger.info("generating synthetic data for %s customers into %s (not timed)", f"{customers:,}", folder)
    began = time.perf_counter()
    command = [sys.executable, "-m", "utils.domains.loan_default.synthetic", "--customers", str(customers), "--out", str(partial)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BenchmarkError(f"data generation failed ({result.returncode}): {shlex.join(command)}\n"
                             + "\n".join(result.stderr.splitlines()[-25:]))
    (partial / ".complete").write_text(str(customers))
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    logger.info("generated in %s (%.0f MB)", _duration(time.perf_counter() - began), _size(folder) / 1e6)
    return folder


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- the DuckDB floor


def duckdb_floor(csv_dir: Path, out_dir: Path) -> None:
    """Read the four CSVs with DuckDB and write each as Parquet partitioned by
    snapshot_date under `out_dir/<file stem>/`. Every column is read as text (like
    bronze); snapshot_date becomes a DATE. This is the I/O floor of a build."""
    import duckdb

    def literal(path: Path) -> str:
        return "'" + str(path).replace("'", "''") + "'"

    out_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for name in CSV_FILES:
        src, dst = csv_dir / name, out_dir / Path(name).stem
        con.execute(
            f"COPY (SELECT * REPLACE (TRY_CAST({DATE_COLUMN} AS DATE) AS {DATE_COLUMN}) "
            f"FROM read_csv({literal(src)}, header = true, all_varchar = true)) "
            f"TO {literal(dst)} (FORMAT parquet, PARTITION_BY ({DATE_COLUMN}))"
        )
    con.close()


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    """One measured case: its repetitions and what was checked about them."""

    key: str  # e.g. full, incremental, nochange, floor, scale-build-x10, scale-floor-x10
    label: str
    kind: str  # build | incremental | nochange | floor
    data: str
    scale: float | None = None
    customers: int | None = None
    runs: list[Measurement] = field(default_factory=list)
    checks: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "runs"}
        d["command"] = self.runs[0].command if self.runs else None
        d["runs"] = [{**asdict(m), "peak_gb": m.peak_gb} for m in self.runs]
        if self.runs:
            d["wall_s"] = summarize([m.wall_s for m in self.runs])
            d["peak_gb"] = summarize([m.peak_gb for m in self.runs])
            d["cpu_s"] = summarize([m.cpu_s for m in self.runs])
        target = TARGETS.get(self.key)
        d["target"] = asdict(target) if target else None
        d["meets"] = target.met(d["wall_s"]["median"], d["peak_gb"]["median"]) if target and self.runs else None
        return d


def _scale_tag(scale: float) -> str:
    return f"x{scale:g}"


def _latest_record(datamart: Path, known: set[str]) -> dict | None:
    """The run record a build just wrote into `datamart` (one not in `known`)."""
    folder = datamart / "_meta" / "run_records"
    new = sorted(p for p in folder.glob("*.json") if p.name not in known) if folder.is_dir() else []
    return json.loads(new[-1].read_text(encoding="utf-8")) if new else None


def _records(datamart: Path) -> set[str]:
    folder = datamart / "_meta" / "run_records"
    return {p.name for p in folder.glob("*.json")} if folder.is_dir() else set()


def table_statuses(record: dict | None) -> dict[str, list[str]]:
    """Tables of a run record grouped by status (written / unchanged)."""
    out: dict[str, list[str]] = {}
    for o in (record or {}).get("outputs") or []:
        out.setdefault(o["status"], []).append(o["table"])
    return out


class Bench:
    """Runs the selected cases and writes the results after each one."""

    def __init__(self, args: argparse.Namespace, argv: Sequence[str]):
        self.args = args
        self.argv = list(argv)
        self.work: Path = args.work.resolve()
        self.out: Path = args.out.resolve()
        self.cs611, self.cs611_real = resolve_cs611(args.cs611, args.quick)
        self.base_customers = SAMPLE_CUSTOMERS if args.quick else CS611_CUSTOMERS
        self.cases: list[Case] = []
        self.started = dt.datetime.now(dt.UTC)
        self.began = time.perf_counter()
        self.machine = describe_machine()
        self.git = git_state()
        self.error: str | None = None

    # ---- helpers
    def build_command(self, data: Path, datamart: Path) -> list[str]:
        return [sys.executable, str(REPO / "main.py"), "--domain", "loan_default", "--data-root", str(data),
                "--datamart", str(datamart)]

    def reference_command(self, data: Path, datamart: Path) -> list[str]:
        """The build command of the --reference commit's checkout (older versions had
        one domain and no --domain option)."""
        repo = checkout_reference(self.args.reference, self.work)
        return [sys.executable, str(repo / "main.py"), "--data-root", str(data), "--datamart", str(datamart)]

    def floor_command(self, data: Path, out: Path) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "--_duckdb-floor", str(data), str(out)]

    def run(self, case: Case, command: list[str], rep: int, reps: int,
            prepare: Callable[[], None] | None = None) -> Measurement:
        if prepare is not None:
            prepare()
        logger.info("[%s %d/%d] running", case.key, rep, reps)
        m = measure(command, log_stem=self.work / "logs" / f"{case.key}-r{rep}", interval=self.args.interval)
        check_exit(m, f"{case.key} repetition {rep}")
        logger.info("[%s %d/%d] %s, peak %.2f GB, CPU %.0f s", case.key, rep, reps, _duration(m.wall_s),
                    m.peak_gb, m.cpu_s)
        case.runs.append(m)
        return m

    def untimed_build(self, data: Path, datamart: Path, what: str) -> dict | None:
        logger.info("preparing %s: building %s from %s (not timed)", what, datamart, data)
        known = _records(datamart)
        m = measure(self.build_command(data, datamart), log_stem=self.work / "logs" / f"{what}-setup",
                    interval=self.args.interval)
        check_exit(m, f"{what} setup build")
        logger.info("prepared in %s", _duration(m.wall_s))
        return _latest_record(datamart, known)

    def datamart(self, name: str) -> Path:
        return self.work / "datamarts" / name

    def data_label(self) -> str:
        return "CS611" if self.cs611_real else "sample"

    # ---- cases
    def fresh_builds(self, key: str, label: str, *options: str) -> Path:
        """`--repeat` builds of the CS611 data, each into an emptied datamart; returns it."""
        reps = self.args.repeat
        dm = self.datamart(key)
        case = Case(key, label, "build", str(self.cs611))
        self.cases.append(case)
        for rep in range(1, reps + 1):
            self.run(case, [*self.build_command(self.cs611, dm), *options], rep, reps,
                     prepare=lambda: shutil.rmtree(dm, True))
            case.checks["tables"] = {k: len(v) for k, v in table_statuses(_latest_record(dm, set())).items()}
        self.save()
        return dm

    def case_full(self) -> None:
        if not self.args.reference:
            self.fresh_builds("full", f"full build ({self.data_label()})")
            return
        # this checkout and the reference, in turn (A B A B ...): drift of the machine's
        # speed during the invocation touches both alike
        reps, ref = self.args.repeat, self.args.reference
        dm, ref_dm = self.datamart("full"), self.datamart("full-reference")
        ref_command = self.reference_command(self.cs611, ref_dm)
        case = Case("full", f"full build ({self.data_label()})", "build", str(self.cs611))
        ref_case = Case("full-reference", f"full build ({self.data_label()}) at {ref}", "reference", str(self.cs611))
        self.cases += [case, ref_case]
        for rep in range(1, reps + 1):
            self.run(case, self.build_command(self.cs611, dm), rep, reps, prepare=lambda: shutil.rmtree(dm, True))
            self.run(ref_case, ref_command, rep, reps, prepare=lambda: shutil.rmtree(ref_dm, True))
        case.checks["tables"] = {k: len(v) for k, v in table_statuses(_latest_record(dm, set())).items()}
        pairs = [a.wall_s / b.wall_s for a, b in zip(case.runs, ref_case.runs)]
        case.checks["vs_reference"] = {"ref": ref, "commit": _first_line(
            ["git", "-C", str(REPO), "rev-parse", ref]), "median_pair_ratio": statistics.median(pairs)}
        self.save()

    def case_profile(self) -> None:
        """The full build with --profile (issue 6: profiling adds < 25 % to the build)."""
        dm = self.fresh_builds("profile", f"full build + --profile ({self.data_label()})", "--profile")
        shutil.rmtree(dm, ignore_errors=True)

    def case_nochange(self) -> None:
        reps = self.args.repeat
        dm = self.datamart("full")
        if not any(c.key == "full" and c.runs for c in self.cases):  # never a datamart of an earlier invocation
            shutil.rmtree(dm, ignore_errors=True)
            self.untimed_build(self.cs611, dm, "nochange")
        case = Case("nochange", f"no-change rerun ({self.data_label()})", "nochange", str(self.cs611))
        self.cases.append(case)
        for rep in range(1, reps + 1):
            known = _records(dm)
            self.run(case, self.build_command(self.cs611, dm), rep, reps)
            statuses = table_statuses(_latest_record(dm, known))
            case.checks["tables"] = {k: len(v) for k, v in statuses.items()}
            if statuses.get("written"):
                logger.warning("the no-change rerun wrote %s", ", ".join(statuses["written"]))
        self.save()

    def case_incremental(self) -> None:
        reps = self.args.repeat
        month = last_month(self.cs611 / f for f in CSV_FILES)
        landing = self.work / "landing" / f"{self.data_label().lower()}-without-{month}"
        shutil.rmtree(landing, ignore_errors=True)
        dropped_by_file = {}
        for f in CSV_FILES:
            _, dropped = write_without_month(self.cs611 / f, landing / f, month)
            dropped_by_file[f] = dropped
        logger.info("incremental: %s without %s (rows dropped: %s)", landing, month,
                    ", ".join(f"{f} {n:,}" for f, n in dropped_by_file.items()))
        dm, base = self.datamart("incremental"), self.datamart("incremental-base")
        shutil.rmtree(dm, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
        self.untimed_build(landing, dm, "incremental")
        shutil.copytree(dm, base, symlinks=True)

        def restore() -> None:  # every repetition starts from the same datamart, at the same path
            shutil.rmtree(dm)
            shutil.copytree(base, dm, symlinks=True)

        case = Case("incremental", f"incremental: add {month} ({self.data_label()})", "incremental", str(self.cs611))
        case.checks.update(month=month, rows_dropped=dropped_by_file, landing=str(landing))
        self.cases.append(case)
        for rep in range(1, reps + 1):
            known = _records(base)
            self.run(case, self.build_command(self.cs611, dm), rep, reps, prepare=restore)
            statuses = table_statuses(_latest_record(dm, known))
            case.checks["written"] = statuses.get("written", [])
            case.checks["unchanged"] = statuses.get("unchanged", [])
        if not case.checks["unchanged"]:
            logger.warning("incremental: the run rewrote every table; it was not incremental")
        self.save()

    def case_floor(self, data: Path, key: str, label: str, reps: int, scale: float | None = None,
                   customers: int | None = None) -> Case:
        out = self.work / "parquet" / key
        case = Case(key, label, "floor", str(data), scale=scale, customers=customers)
        self.cases.append(case)
        for rep in range(1, reps + 1):
            self.run(case, self.floor_command(data, out), rep, reps, prepare=lambda: shutil.rmtree(out, True))
        case.checks["parquet_mb"] = round(_size(out) / 1e6, 1)
        self.save()
        return case

    def case_scale(self, scale: float) -> None:
        customers = max(1, round(self.base_customers * scale))
        reps = self.args.repeat if scale == 1 else self.args.scale_repeat
        prefix = "" if self.base_customers == CS611_CUSTOMERS else "sample-"
        data = ensure_synthetic(self.work / "data" / f"{prefix}{_scale_tag(scale)}", customers)
        tag = _scale_tag(scale)
        dm = self.datamart(f"scale-{tag}")
        case = Case(f"scale-build-{tag}", f"scale ×{scale:g} build ({customers:,} customers)", "build", str(data),
                    scale=scale, customers=customers)
        case.checks["csv_mb"] = round(_size(data) / 1e6, 1)
        self.cases.append(case)
        for rep in range(1, reps + 1):
            self.run(case, self.build_command(data, dm), rep, reps, prepare=lambda: shutil.rmtree(dm, True))
        self.save()
        self.case_floor(data, f"scale-floor-{tag}", f"scale ×{scale:g} DuckDB floor", reps, scale, customers)
        shutil.rmtree(dm, ignore_errors=True)  # the big datamarts are not needed afterwards

    def run_all(self) -> None:
        only = self.args.only
        logger.info("benchmark: %s; data %s (%s); work %s; out %s", ",".join(only), self.cs611,
                    "CS611" if self.cs611_real else "sample", self.work, self.out)
        if "full" in only:
            self.case_full()
        if "profile" in only:
            self.case_profile()
        if "nochange" in only:
            self.case_nochange()
        if "incremental" in only:
            self.case_incremental()
        if "floor" in only:
            self.case_floor(self.cs611, "floor", f"DuckDB floor ({self.data_label()})", self.args.repeat)
        if "scale" in only:
            for scale in self.args.scale:
                self.case_scale(scale)

    # ---- results
    def results(self) -> dict:
        cases = [c.to_dict() for c in self.cases]
        return {
            "title": "lakehouse build benchmarks (issue 7)",
            "invocation": {
                "command": shlex.join([Path(sys.executable).name, "benchmarks/run.py", *self.argv]),
                "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(self.args).items()
                            if not k.startswith("_")},
                "started_at": self.started.isoformat(timespec="seconds"),
                "seconds": round(time.perf_counter() - self.began, 1),
                "sampling_interval_s": self.args.interval,
            },
            "git": self.git,
            "machine": self.machine,
            "data": {"cs611": str(self.cs611), "cs611_is_real": self.cs611_real,
                     "scale_base_customers": self.base_customers},
            "cases": cases,
            "growth": growth(cases),
            "ratios": ratios(cases, self.data_label()),
            "profile_overhead": profile_overhead(cases),
            "error": self.error,
        }

    def save(self) -> dict:
        results = without_machine_paths(self.results())
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        (self.out / "results.md").write_text(render_markdown(results), encoding="utf-8")
        if any(c["kind"] == "build" and c["scale"] is not None and c.get("wall_s") for c in results["cases"]):
            plot_scale(results, self.out / "scale.png")
        return results


def without_machine_paths(node):
    """`node` (the results) with every absolute path shown as the project shows paths in
    committed files (utils.lake.paths.portable_path: relative to the project, else
    "…/<name>"), so results can be committed without naming the machine they ran on."""
    from utils.lake.paths import portable_path

    if isinstance(node, dict):
        return {k: without_machine_paths(v) for k, v in node.items()}
    if isinstance(node, list):
        return [without_machine_paths(v) for v in node]
    if isinstance(node, str) and node.startswith("/") and "\n" not in node:
        return portable_path(node, REPO)
    return node


# --------------------------------------------------------------------------- summaries


def _find(cases: list[dict], key: str) -> dict | None:
    return next((c for c in cases if c["key"] == key and c.get("wall_s")), None)


def growth(cases: list[dict], low: float = GROWTH[0], high: float = GROWTH[1]) -> dict | None:
    """Median build time at x`high` over x`low`; linear growth allows high/low."""
    a, b = _find(cases, f"scale-build-{_scale_tag(low)}"), _find(cases, f"scale-build-{_scale_tag(high)}")
    if a is None or b is None:
        return None
    ratio = b["wall_s"]["median"] / a["wall_s"]["median"]
    return {"from": low, "to": high, "ratio": ratio, "limit": high / low, "meets": ratio <= high / low}


#: Issue 6: profiling may add less than this share to a full build's wall time.
PROFILE_OVERHEAD_LIMIT = 0.25


def profile_overhead(cases: list[dict]) -> dict | None:
    """Median wall time of the build with --profile over the plain full build, minus one."""
    plain, profiled = _find(cases, "full"), _find(cases, "profile")
    if plain is None or profiled is None:
        return None
    share = profiled["wall_s"]["median"] / plain["wall_s"]["median"] - 1
    return {"build_s": plain["wall_s"]["median"], "profiled_s": profiled["wall_s"]["median"],
            "overhead": share, "limit": PROFILE_OVERHEAD_LIMIT, "meets": share < PROFILE_OVERHEAD_LIMIT}


def ratios(cases: list[dict], cs611_name: str = "CS611") -> list[dict]:
    """Our build over the DuckDB floor (median wall time and median peak memory) for
    the CS611 data (named `cs611_name`) and at every scale."""
    pairs = [(cs611_name, "full", "floor")]
    pairs += [(f"×{c['scale']:g}", c["key"], c["key"].replace("-build-", "-floor-"))
              for c in cases if c["key"].startswith("scale-build-")]
    out = []
    for name, build_key, floor_key in pairs:
        b, f = _find(cases, build_key), _find(cases, floor_key)
        if b and f:
            out.append({
                "data": name,
                "build_s": b["wall_s"]["median"], "floor_s": f["wall_s"]["median"],
                "time_ratio": b["wall_s"]["median"] / f["wall_s"]["median"],
                "memory_ratio": b["peak_gb"]["median"] / f["peak_gb"]["median"],
            })
    return out


def _duration(seconds: float) -> str:
    """'42.1 s', '12 min' or '3 min 05 s'."""
    if seconds < 120:
        return f"{seconds:.1f} s"
    m, s = divmod(round(seconds), 60)
    return f"{m} min" if s == 0 else f"{m} min {s:02d} s"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    """A GitHub Markdown table; `right` says which columns are right-aligned."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if r else "---" for r in right) + "|"]
    lines += ["| " + " | ".join(str(x).replace("|", "\\|") for x in row) + " |" for row in rows]
    return "\n".join(lines)


def results_table(results: dict) -> str:
    """The summary table: one row per case, then the x10 -> x40 growth check."""
    rows = []
    for c in results["cases"]:
        if not c.get("wall_s"):
            continue
        w, p = c["wall_s"], c["peak_gb"]
        meets = "–" if c["meets"] is None else ("yes" if c["meets"] else "**no**")
        target = Target(**c["target"]).describe() if c["target"] else "–"
        rows.append([c["label"], str(w["n"]), f"{w['median']:.1f}", f"{w['min']:.1f}–{w['max']:.1f}",
                     f"{p['median']:.2f}", target, meets])
    o = results.get("profile_overhead")
    if o:
        rows.append(["profiling overhead (build + --profile vs build)", "", f"{100 * o['overhead']:+.0f} %", "", "",
                     f"< {100 * o['limit']:.0f} %", "yes" if o["meets"] else "**no**"])
    g = results.get("growth")
    if g:
        rows.append([f"build time growth ×{g['from']:g} → ×{g['to']:g}", "", f"{g['ratio']:.2f}×", "", "",
                     f"≤ {g['limit']:g}× (linear)", "yes" if g["meets"] else "**no**"])
    header = ["case", "runs", "median wall s", "min–max s", "median peak GB", "target", "meets?"]
    return markdown_table(header, rows, [False, True, True, True, True, False, False])


def ratios_line(results: dict) -> str:
    parts = [f"{r['data']} {r['time_ratio']:.1f}× (memory {r['memory_ratio']:.1f}×)" for r in results["ratios"]]
    return "Full build / DuckDB floor, median wall time: " + ("; ".join(parts) if parts else "not measured") + "."


def _process_share(name: str, entry: dict) -> str:
    """'java 1.92 GB' or 'python3 ×3 0.61 GB'."""
    count = f" ×{entry['processes']}" if entry["processes"] > 1 else ""
    return f"{name}{count} {entry['rss_bytes'] / GB:.2f} GB"


def render_markdown(results: dict) -> str:
    """results.md: provenance, machine, the table, the ratios to the floor and notes."""
    inv, m, git = results["invocation"], results["machine"], results["git"]
    lines = [
        "# Benchmark results",
        "",
        (f"`{inv['command']}` started {inv['started_at']}, took {_duration(inv['seconds'])}; "
         f"commit `{git['commit'][:12]}`{' (with local changes)' if git['dirty'] else ''}."),
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu_model']}, {m['cpu_logical']} logical cores ({m['cpu_physical']} physical)",
        f"- RAM: {m['ram_gb']:.1f} GB; OS: {m['os']}",
        (f"- Python {m['python']}, Java {m['java']}, Spark {m['versions'].get('pyspark')}, "
         f"delta-spark {m['versions'].get('delta-spark')}, deltalake {m['versions'].get('deltalake')}, "
         f"DuckDB {m['versions'].get('duckdb')}"),
        f"- load average at start: {m['load_average']}",
        "",
        "## Results",
        "",
        "Each run is a separate process. Wall time from start to exit; peak memory is the",
        "largest sum of RSS over the process and all its descendants (the Spark JVM included),",
        f"sampled every {inv['sampling_interval_s']:g} s. GB = 10^9 bytes. Medians over the runs.",
        "",
        results_table(results),
        "",
        ratios_line(results),
        "",
    ]
    notes = []
    if not results["data"]["cs611_is_real"]:
        notes.append("The targets are set for the CS611 data; this invocation used the shipped sample "
                     f"({results['data']['cs611']}), so yes/no are indicative only.")
    for c in results["cases"]:
        vs = c["checks"].get("vs_reference")
        ref = _find(results["cases"], "full-reference")
        if vs and ref and c.get("wall_s"):
            notes.append(f"Against `{vs['ref']}` ({vs['commit'][:12]}), built in turn in the same invocation: "
                         f"{c['wall_s']['median']:.1f} s against {ref['wall_s']['median']:.1f} s (medians); "
                         f"median of the paired ratios {vs['median_pair_ratio']:.3f}.")
        if c["kind"] == "incremental" and "written" in c["checks"]:
            notes.append(f"Incremental: the files without {c['checks']['month']} were built first (not "
                         f"timed); the timed run wrote {len(c['checks']['written'])} tables "
                         f"({', '.join(c['checks']['written'])}) and skipped {len(c['checks']['unchanged'])} "
                         "as unchanged.")
        if c["kind"] == "nochange" and c["checks"].get("tables"):
            notes.append("No-change rerun: tables " + ", ".join(f"{k} {v}" for k, v in c["checks"]["tables"].items())
                         + ".")
    for c in results["cases"]:
        if c["kind"] in ("build", "incremental") and c.get("runs"):
            worst = max(c["runs"], key=lambda r: r["peak_rss_bytes"])
            parts = sorted(worst.get("peak_by_process", {}).items(), key=lambda kv: -kv[1]["rss_bytes"])
            if parts:
                notes.append(f"Largest peak, {c['label']}: {worst['peak_gb']:.2f} GB = "
                             + " + ".join(_process_share(name, v) for name, v in parts if v["rss_bytes"]) + ".")
    scale = [c for c in results["cases"] if c["kind"] == "build" and c["scale"] is not None]
    if scale:
        notes.append("Scale data: `python -m utils.domains.loan_default.synthetic` with "
                     + ", ".join(f"{c['customers']:,} customers ({c['checks'].get('csv_mb', '?')} MB of CSV)"
                                 for c in scale) + ".")
    if results.get("error"):
        notes.append(f"**The invocation stopped with an error**: {results['error'].splitlines()[0]}")
    if notes:
        lines += ["Notes:", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)


def plot_scale(results: dict, path: Path) -> None:
    """Wall time and peak memory against data size, our build and the DuckDB floor,
    both axes logarithmic, every point labelled with its value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    cases = [c for c in results["cases"] if c["scale"] is not None and c.get("wall_s")]
    series = {
        "build": ("our build (Spark + Delta)", "#1f4e79", "o"),
        "floor": ("DuckDB floor (CSV → Parquet)", "#9a9a9a", "s"),
    }
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    panels = [("wall_s", "Wall time (s)", _duration, _duration),
              ("peak_gb", "Peak memory of the process tree (GB)", lambda v: f"{v:.2f} GB", lambda v: f"{v:g} GB")]
    scales = sorted({c["scale"] for c in cases})
    customers = {c["scale"]: c["customers"] for c in cases}
    for ax, (metric, title, fmt, fmt_target) in zip(axes, panels):
        for kind, (label, color, marker) in series.items():
            pts = sorted((c["customers"], c[metric]) for c in cases if c["kind"] == kind)
            if not pts:
                continue
            x = [p[0] for p in pts]
            y = [p[1]["median"] for p in pts]
            lo = [p[1]["median"] - p[1]["min"] for p in pts]
            hi = [p[1]["max"] - p[1]["median"] for p in pts]
            ax.errorbar(x, y, yerr=[lo, hi], color=color, marker=marker, lw=1.6, ms=5, capsize=0, label=label)
            for xi, yi in zip(x, y):
                last_build = kind == "build" and xi == x[-1]  # right of the point: clear of the guide and target
                ax.annotate(fmt(yi), (xi, yi), textcoords="offset points",
                            xytext=(7, -10) if last_build else (0, 7 if kind == "build" else -13),
                            ha="left" if last_build else "center", fontsize=8, color=color)
        if metric == "wall_s" and len(scales) >= 2:  # linear growth from the second-largest size on
            builds = {c["scale"]: c["wall_s"]["median"] for c in cases if c["kind"] == "build"}
            a, b = scales[-2], scales[-1]
            if a in builds:
                ax.plot([customers[a], customers[b]], [builds[a], builds[a] * b / a], ls=":", color="#1f4e79",
                        lw=1, label=f"linear from ×{a:g}")
        target = TARGETS.get(f"scale-build-{_scale_tag(scales[-1])}") if scales else None
        limit = None if target is None else (target.wall_s if metric == "wall_s" else target.peak_gb)
        if limit is not None:
            ax.axhline(limit, color="#b03a2e", lw=0.8, ls="--")
            ax.annotate(f"×{scales[-1]:g} target: {fmt_target(limit)}", (0.02, limit), xycoords=("axes fraction", "data"),
                        xytext=(0, 3), textcoords="offset points", fontsize=8, color="#b03a2e")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks([customers[s] for s in scales])
        ax.set_xticklabels([f"×{s:g}\n{customers[s]:,}" for s in scales])
        ax.minorticks_off()
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("data size (customers)")
        ax.set_title(title, fontsize=10, loc="left")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.margins(x=0.15, y=0.2)
    handles, labels = axes[0].get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i].startswith("linear"))  # the guide last
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False, fontsize=8)
    fig.suptitle(f"Scale curve: full build vs DuckDB floor, {results['machine']['cpu_logical']} cores, "
                 f"medians with min–max", fontsize=10)
    fig.savefig(path, dpi=150)
    plt.close(fig)


# --------------------------------------------------------------------------- provenance


def _first_line(command: list[str], stream: str = "stdout") -> str:
    try:
        r = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    text = (r.stderr if stream == "stderr" else r.stdout).strip()
    return text.splitlines()[0] if text else "unknown"


def describe_machine() -> dict:
    """CPU, cores, RAM, OS and the versions of Python, Java, Spark, Delta and DuckDB."""
    from importlib import metadata

    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    java = "unknown"
    try:
        if str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))
        from utils.lake.spark import resolve_java_home

        java = _first_line([str(Path(resolve_java_home()) / "bin" / "java"), "-version"], "stderr")
    except Exception as exc:  # noqa: BLE001 - provenance only: never stop a benchmark for it
        logger.debug("no Java version: %s", exc)
    versions = {}
    for package in ("pyspark", "delta-spark", "deltalake", "duckdb", "psutil", "pandas", "pyarrow"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu_model": cpu_model,
        "cpu_logical": os.cpu_count(),
        "cpu_physical": psutil.cpu_count(logical=False),
        "ram_gb": psutil.virtual_memory().total / GB,
        "os": platform.platform(),
        "python": platform.python_version(),
        "java": java,
        "versions": versions,
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def checkout_reference(ref: str, work: Path) -> Path:
    """A detached worktree of `ref` under `work` (made once per commit), to time it."""
    commit = _first_line(["git", "-C", str(REPO), "rev-parse", "--verify", f"{ref}^{{commit}}"])
    if not commit:
        raise SystemExit(f"--reference {ref}: not a commit of {REPO}")
    folder = work / "reference" / commit[:12]
    if not (folder / "main.py").exists():
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(folder), commit],
                       check=True, capture_output=True, timeout=120)
    return folder


def git_state() -> dict:
    commit = _first_line(["git", "-C", str(REPO), "rev-parse", "HEAD"])
    try:
        dirty = bool(subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=30, check=False).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        dirty = False
    return {"commit": commit, "dirty": dirty}


# --------------------------------------------------------------------------- command line


def _scale_value(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("a scale must be positive")
    return value


def _cases(text: str) -> tuple[str, ...]:
    chosen = tuple(x.strip() for x in text.split(",") if x.strip())
    unknown = [c for c in chosen if c not in CASES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown case(s) {', '.join(unknown) or '(none)'}; choose from {','.join(CASES)}")
    return chosen


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python benchmarks/run.py", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Cases: " + ", ".join(CASES) + ". See benchmarks/README.md.")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: the shipped sample data, 1 repetition, scale x1 of the sample size")
    p.add_argument("--repeat", type=_positive, help="repetitions of the CS611 cases, the floor and scale x1 (default 3)")
    p.add_argument("--scale-repeat", type=_positive, help="repetitions of the other scales (default 1)")
    p.add_argument("--scale", type=_scale_value, nargs="+", help="sizes as multiples of CS611 (default 1 10 40)")
    p.add_argument("--cs611", type=Path, help=f"folder of the CS611 CSVs (default {DEFAULT_CS611}; "
                                              "falls back to data/ when absent)")
    p.add_argument("--work", type=Path, default=DEFAULT_WORK,
                   help="scratch folder: datamarts, generated data (cached), logs (default %(default)s)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where results go (default benchmarks/results)")
    p.add_argument("--only", type=_cases, default=CASES, help=f"comma-separated cases (default {','.join(CASES)})")
    p.add_argument("--reference", metavar="GIT_REF",
                   help="also time the full build of this commit (checked out under --work), in turn with this "
                        "checkout's, and report the median of the paired ratios")
    p.add_argument("--interval", type=float, default=INTERVAL_S, help="memory sampling interval in s (default 0.2)")
    p.add_argument("--_duckdb-floor", nargs=2, type=Path, metavar=("CSV_DIR", "OUT_DIR"), help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args._duckdb_floor:  # the measured DuckDB process: nothing else
        duckdb_floor(*args._duckdb_floor)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.scale_repeat = args.scale_repeat or 1
    args.scale = args.scale or ([1.0] if args.quick else [1.0, 10.0, 40.0])
    bench = Bench(args, argv)
    try:
        bench.run_all()
    except BenchmarkError as exc:
        bench.error = str(exc)
        logger.error("%s", exc)
        bench.save()
        logger.error("partial results in %s", bench.out)
        return 1
    except KeyboardInterrupt:
        bench.error = "interrupted"
        bench.save()
        logger.error("interrupted; partial results in %s", bench.out)
        return 130
    results = bench.save()
    logger.info("done in %s; results in %s", _duration(results["invocation"]["seconds"]), bench.out)
    print(results_table(results))  # the one thing this tool prints: the table to paste
    print()
    print(ratios_line(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
