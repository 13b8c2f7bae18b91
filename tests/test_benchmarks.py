"""The pure parts of the benchmark harness (benchmarks/run.py); no Spark here."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _load_run():
    spec = importlib.util.spec_from_file_location("benchmarks_run", PROJECT_ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


run = _load_run()


def _case(key, kind, walls, peaks, scale=None, customers=None, label=None, **checks):
    """A case dictionary as Case.to_dict() makes it, from wall times and peaks in GB."""
    c = run.Case(key, label or key, kind, "/data", scale=scale, customers=customers, checks=dict(checks))
    c.runs = [run.Measurement(["cmd"], w, int(p * run.GB), 1.0, 0, 10) for w, p in zip(walls, peaks)]
    return c.to_dict()


# --------------------------------------------------------------------------- summaries


def test_summary_is_median_min_max_of_the_repetitions():
    assert run.summarize([71.0, 64.0, 90.0]) == {"n": 3, "median": 71.0, "min": 64.0, "max": 90.0}


def test_summary_of_an_even_count_takes_the_mean_of_the_middle_two():
    assert run.summarize([4.0, 1.0, 3.0, 2.0])["median"] == 2.5


def test_summary_of_no_repetitions_is_an_error():
    with pytest.raises(ValueError):
        run.summarize([])


# --------------------------------------------------------------------------- targets


def test_target_met_needs_both_time_and_memory_within_bounds():
    t = run.Target(wall_s=60, peak_gb=3)
    assert t.met(60.0, 3.0)
    assert not t.met(60.1, 1.0)
    assert not t.met(10.0, 3.2)


def test_target_without_memory_bound_checks_time_only():
    assert run.Target(wall_s=20).met(19.9, 50.0)


def test_case_meets_its_target_on_medians_not_on_the_worst_run():
    full = _case("full", "build", [55.0, 58.0, 75.0], [2.0, 2.1, 3.5])
    assert full["wall_s"]["median"] == 58.0 and full["peak_gb"]["median"] == pytest.approx(2.1)
    assert full["meets"] is True
    assert _case("nochange", "nochange", [13.0], [0.2])["meets"] is False


def test_case_without_target_has_no_verdict():
    assert _case("floor", "floor", [3.0], [0.3])["meets"] is None


def test_issue_targets():
    assert run.TARGETS["full"] == run.Target(wall_s=60, peak_gb=3)
    assert run.TARGETS["incremental"] == run.Target(wall_s=20)
    assert run.TARGETS["nochange"] == run.Target(wall_s=12)
    assert run.TARGETS["scale-build-x40"] == run.Target(wall_s=720, peak_gb=8)


def test_growth_from_x10_to_x40_is_within_linear_up_to_four_times():
    cases = [_case("scale-build-x10", "build", [100.0], [3.0], 10, 125_000),
             _case("scale-build-x40", "build", [400.0], [6.0], 40, 500_000)]
    g = run.growth(cases)
    assert g["ratio"] == 4.0 and g["limit"] == 4.0 and g["meets"] is True
    cases[1] = _case("scale-build-x40", "build", [410.0], [6.0], 40, 500_000)
    assert run.growth(cases)["meets"] is False


def test_profile_overhead_is_the_median_build_with_profile_over_the_plain_build():
    cases = [_case("full", "build", [60.0, 62.0, 80.0], [2.0] * 3), _case("profile", "build", [70.0, 76.0, 90.0], [2.0] * 3)]
    o = run.profile_overhead(cases)
    assert o["overhead"] == pytest.approx(76.0 / 62.0 - 1) and o["meets"] is True
    cases[1] = _case("profile", "build", [78.0, 78.0, 78.0], [2.0] * 3)
    assert run.profile_overhead(cases)["meets"] is False  # 25.8 %
    table = run.results_table({"cases": cases, "profile_overhead": run.profile_overhead(cases)})
    assert "| profiling overhead (build + --profile vs build) |  | +26 % |  |  | < 25 % | **no** |" in table
    assert run.profile_overhead(cases[:1]) is None


def test_growth_is_absent_without_both_sizes():
    assert run.growth([_case("scale-build-x1", "build", [80.0], [2.0], 1, 12_500)]) is None


def test_ratio_to_the_duckdb_floor_per_data_size():
    cases = [_case("full", "build", [80.0], [2.0]), _case("floor", "floor", [4.0], [0.5]),
             _case("scale-build-x40", "build", [600.0], [6.0], 40, 500_000),
             _case("scale-floor-x40", "floor", [60.0], [1.5], 40, 500_000)]
    r = run.ratios(cases)
    assert [(x["data"], x["time_ratio"], x["memory_ratio"]) for x in r] == [("CS611", 20.0, 4.0), ("×40", 10.0, 4.0)]


# --------------------------------------------------------------------------- Markdown


def test_markdown_table_has_header_alignment_row_and_escaped_cells():
    text = run.markdown_table(["case", "s"], [["a|b", "1.0"]], [False, True])
    assert text.splitlines() == ["| case | s |", "|---|---:|", "| a\\|b | 1.0 |"]


def test_results_table_shows_medians_range_peak_target_and_verdict():
    cases = [_case("full", "build", [58.0, 61.0, 70.0], [2.5, 2.6, 2.7], label="full build (CS611)"),
             _case("incremental", "incremental", [25.0], [1.0], label="incremental"),
             _case("scale-build-x10", "build", [100.0], [3.0], 10, 125_000, label="x10"),
             _case("scale-build-x40", "build", [380.0], [6.0], 40, 500_000, label="x40")]
    lines = run.results_table({"cases": cases, "growth": run.growth(cases)}).splitlines()
    assert lines[0] == "| case | runs | median wall s | min–max s | median peak GB | target | meets? |"
    assert lines[2] == "| full build (CS611) | 3 | 61.0 | 58.0–70.0 | 2.60 | ≤ 60 s, ≤ 3 GB | **no** |"
    assert lines[3] == "| incremental | 1 | 25.0 | 25.0–25.0 | 1.00 | ≤ 20 s | **no** |"
    assert lines[5] == "| x40 | 1 | 380.0 | 380.0–380.0 | 6.00 | ≤ 12 min, ≤ 8 GB | yes |"
    assert lines[6] == "| build time growth ×10 → ×40 |  | 3.80× |  |  | ≤ 4× (linear) | yes |"


def test_markdown_report_names_machine_and_ratio_and_flags_sample_data():
    cases = [_case("full", "build", [80.0], [2.0], label="full build (sample)"), _case("floor", "floor", [4.0], [0.5])]
    results = {
        "invocation": {"command": "python benchmarks/run.py --quick", "started_at": "2026-11-23T05:00:00+00:00",
                       "seconds": 300.0, "sampling_interval_s": 0.2},
        "git": {"commit": "0123456789abcdef", "dirty": False},
        "machine": {"cpu_model": "Some CPU", "cpu_logical": 2, "cpu_physical": 1, "ram_gb": 24.0, "os": "Linux",
                    "python": "3.11.7", "java": 'openjdk version "21"', "load_average": "0.5 0.5 0.5",
                    "versions": {"pyspark": "4.0.1", "delta-spark": "4.0.1", "deltalake": "1.6.6", "duckdb": "2.0.0"}},
        "data": {"cs611": "data", "cs611_is_real": False, "scale_base_customers": 1500},
        "cases": cases, "growth": None, "ratios": run.ratios(cases, "sample"), "error": None,
    }
    md = run.render_markdown(results)
    assert "Some CPU, 2 logical cores" in md and "Spark 4.0.1" in md and "commit `0123456789ab`" in md
    assert "Full build / DuckDB floor, median wall time: sample 20.0× (memory 4.0×)." in md
    assert "yes/no are indicative only" in md


def test_duration_reads_as_seconds_then_minutes():
    assert run._duration(42.06) == "42.1 s"
    assert run._duration(720) == "12 min"
    assert run._duration(185) == "3 min 05 s"


# --------------------------------------------------------------------------- incremental data


CSV = textwrap.dedent('''\
    loan_id,Name,snapshot_date,amount
    L1,"O""Brien, Pat",2025-10-01,1.0
    L2,Ann,2025-11-01,2.0
    L3,Bo,2023-01-01,3.0
    L4,"Cy, ""Jr""",2025-11-01,4.0
    L5,Di,2025-10-01,
    ''')


def test_last_month_is_the_latest_over_all_files(tmp_path):
    (tmp_path / "a.csv").write_text(CSV)
    (tmp_path / "b.csv").write_text("x,snapshot_date\n1,2025-12-01\n")
    assert run.last_month([tmp_path / "a.csv"]) == "2025-11"
    assert run.last_month([tmp_path / "a.csv", tmp_path / "b.csv"]) == "2025-12"


def test_dropping_the_last_month_keeps_every_other_line_byte_for_byte(tmp_path):
    src, dst = tmp_path / "in.csv", tmp_path / "out" / "in.csv"
    src.write_bytes(CSV.encode())
    assert run.write_without_month(src, dst, "2025-11") == (3, 2)
    kept = [line for line in CSV.splitlines(keepends=True) if "2025-11-01" not in line]
    assert dst.read_bytes() == "".join(kept).encode()


def test_dropping_a_month_no_file_has_copies_it_unchanged(tmp_path):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_bytes(CSV.encode())
    assert run.write_without_month(src, dst, "2026-01") == (5, 0)
    assert dst.read_bytes() == src.read_bytes()


def test_a_file_without_snapshot_date_is_refused(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no snapshot_date"):
        run.last_month([tmp_path / "x.csv"])


def test_csv_names_match_the_generator():
    from utils.domains.loan_default import synthetic

    assert set(run.CSV_FILES) == {synthetic.LMS_FILE, synthetic.ATTRIBUTES_FILE, synthetic.FINANCIALS_FILE,
                                  synthetic.CLICKSTREAM_FILE}
    assert (run.CS611_CUSTOMERS, run.SAMPLE_CUSTOMERS) == (synthetic.CS611_CUSTOMERS, synthetic.DEFAULT_CUSTOMERS)


# --------------------------------------------------------------------------- measuring


ALLOCATE = "import time; b = bytearray(b'x') * (200 * 1024 * 1024); time.sleep(1.0)"


def test_peak_memory_counts_a_grandchild_process():
    # the measured process only starts another Python, which holds 200 MB (touched)
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {ALLOCATE!r}], check=True)"
    m = run.measure([sys.executable, "-c", child], interval=0.05)
    assert m.exit_code == 0
    assert m.peak_rss_bytes >= 200 * 1024 * 1024
    assert m.wall_s >= 1.0 and m.samples >= 5


def test_a_child_between_fork_and_exec_shares_its_parents_memory():
    # the JVM spawns a helper from a worker thread: same executable, the thread's name
    assert run.is_unexeced_fork("Executor task l", "/usr/bin/java", "java", "/usr/bin/java")
    assert not run.is_unexeced_fork("java", "/usr/bin/java", "python", "/usr/bin/python3")
    assert not run.is_unexeced_fork("python", "/usr/bin/python3", "python", "/usr/bin/python3")  # a forked worker
    assert not run.is_unexeced_fork("x", "", "y", "")  # unknown executables: count it


def test_exit_code_and_stderr_tail_of_a_failing_command(tmp_path):
    m = run.measure([sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"],
                    log_stem=tmp_path / "fail", interval=0.05)
    assert m.exit_code == 3
    with pytest.raises(run.BenchmarkError, match=r"(?s)exit code 3.*boom"):
        run.check_exit(m, "demo")


def test_tables_of_a_run_record_grouped_by_status():
    record = {"outputs": [{"table": "bronze/a", "status": "written"}, {"table": "bronze/b", "status": "unchanged"},
                          {"table": "gold/c", "status": "written"}]}
    assert run.table_statuses(record) == {"written": ["bronze/a", "gold/c"], "unchanged": ["bronze/b"]}


def test_only_accepts_known_cases():
    assert run._cases("full, floor") == ("full", "floor")
    with pytest.raises(Exception, match="unknown case"):
        run._cases("full,fast")


def test_duckdb_floor_writes_parquet_partitioned_by_snapshot_date(tmp_path):
    data = tmp_path / "csv"
    data.mkdir()
    for name in run.CSV_FILES:
        (data / name).write_text(CSV)
    run.duckdb_floor(data, tmp_path / "pq")
    parts = sorted(p.name for p in (tmp_path / "pq" / "lms_loan_daily").iterdir())
    assert parts == ["snapshot_date=2023-01-01", "snapshot_date=2025-10-01", "snapshot_date=2025-11-01"]


def test_saved_results_name_no_path_of_the_machine(tmp_path):
    results = {"invocation": {"options": {"out": str(PROJECT_ROOT / "benchmarks" / "results"),
                                          "work": "/var/tmp/lakehouse-bench"}},
               "cases": [{"command": [sys.executable, str(PROJECT_ROOT / "main.py"), "--datamart", "/srv/dm/full"],
                          "label": "full build (CS611)"}]}
    out = run.without_machine_paths(results)
    assert out["invocation"]["options"] == {"out": "benchmarks/results", "work": "…/lakehouse-bench"}
    assert out["cases"][0]["command"] == ["…/" + Path(sys.executable).name, "main.py", "--datamart", "…/full"]
    assert out["cases"][0]["label"] == "full build (CS611)"
    committed = (PROJECT_ROOT / "benchmarks" / "results" / "results.json").read_text(encoding="utf-8")
    assert str(PROJECT_ROOT) not in committed and '"/' not in committed
