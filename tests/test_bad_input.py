"""Bad input, end to end: every case either stops with one line naming the source and
the file, or lands with every raw record accounted for (bronze rows = raw records, and
per partition bronze = silver + quarantine)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from test_formats import DOMAIN, assert_accounted, build, data_file, meta, write_domain

from utils.lake.datamart import Datamart

HEADER = "id,amount,date\n"
ROWS = "a,1,2023-01-01\nb,2,2023-02-01\n"
RNG = random.Random(611)


@dataclass(frozen=True)
class Case:
    """A file (`content`, None = nothing at the path), the source's reading options, and
    the outcome: `error` (a regex of the one-line message) or `records` (raw records)."""

    content: bytes | str | Callable[[Path], None] | None
    source: dict = field(default_factory=dict)
    error: str | None = None
    records: int | None = None
    check: Callable[[pd.DataFrame, pd.DataFrame, pd.DataFrame, Path], None] | None = None
    name: str = "things.csv"


def reasons(quarantine: pd.DataFrame) -> list[str]:
    return sorted(quarantine["reason"])


def failed(tmp_path: Path, rule: str) -> int:
    quality = meta(tmp_path, "quality")
    return int(quality.loc[(quality["table"] == "silver/things") & (quality["rule"] == rule), "rows_failed"].sum())


def _header_only(b, s, q, tmp_path):
    assert len(s) == 0 and len(q) == 0


def _bom(b, s, q, tmp_path):
    assert list(s["id"]) == ["a", "b"]


def _crlf(b, s, q, tmp_path):
    assert list(b["date"]) == ["2023-01-01", "2023-02-01"] and list(s["amount"]) == [1.0, 2.0]


def _ragged(b, s, q, tmp_path):
    assert list(s["id"]) == ["a", "d"]
    assert [r.split("; ")[0] for r in reasons(q)] == [
        "well_formed_row: the raw record did not parse: 2 fields, header has 3",
        "well_formed_row: the raw record did not parse: 4 fields, header has 3"]


def _malformed_because(text: str):
    def check(b, s, q, tmp_path):
        assert len(q) == 1 and q["rule"].iloc[0] == "well_formed_row" and text in q["reason"].iloc[0], list(q["reason"])
    return check


def _big_field(b, s, q, tmp_path):
    assert len(b.loc[0, "note"]) == 1 << 20 and list(s["id"]) == ["a", "b"]


def _future(b, s, q, tmp_path):
    assert list(s["id"]) == ["a", "b"] and len(q) == 0  # warn: counted, kept
    assert failed(tmp_path, "not_future_date") == 1


def _mixed_dates(b, s, q, tmp_path):
    assert list(s["snapshot_date"]) == [pd.Timestamp(2023, 1, 5).date()] * 2  # the first format that fits
    assert list(q["rule"]) == ["valid_snapshot_date"]


def _huge_numbers(b, s, q, tmp_path):
    assert list(b["amount"]) == ["123456789012345678901234567890", "1e400", "-0.000000000000000000001"]


def _duplicates(b, s, q, tmp_path):
    assert list(s["_source_line"]) == [2] and list(q["rule"]) == ["unique_id"]


def _quoted_newline(b, s, q, tmp_path):
    assert list(s["id"]) == ["b"] and len(q) == 2


def _unclosed(b, s, q, tmp_path):
    assert list(s["id"]) == ["a"]
    assert q["_malformed_record"].iloc[0] == '"open,2,2023-01-01\nc,3,2023-01-01'


def _garbage(path: Path) -> None:
    path.write_bytes(bytes(RNG.randrange(256) for _ in range(4096)))


def _directory(path: Path) -> None:
    path.mkdir(parents=True)
    (path / "inside.csv").write_text(HEADER + ROWS)


CASES = {
    "empty": Case("", error=r"things\.csv: file is empty"),
    "header-only": Case(HEADER, records=0, check=_header_only),
    "whitespace-only": Case("  \n\n", error=r"things\.csv: line 1 is blank"),
    "binary-garbage": Case(_garbage, error=r"things\.csv: not utf-8 text: \d+ of the first \d+ characters"),
    "utf-16-declared-utf-8": Case((HEADER + ROWS).encode("utf-16"), error=r"things\.csv: not utf-8 text"),
    "bom": Case(b"\xef\xbb\xbf" + (HEADER + ROWS).encode(), records=2, check=_bom),
    "crlf": Case((HEADER + ROWS).replace("\n", "\r\n"), records=2, check=_crlf),
    "wrong-delimiter": Case((HEADER + ROWS).replace(",", ";"),
                            error=r"things\.csv: line 1: missing required column\(s\) \['id', 'amount', 'date'\]"),
    "duplicate-header": Case("id,amount,date,id\n" + ROWS, error=r"things\.csv: line 1: duplicate column name\(s\) \['id'\]"),
    "missing-required-column": Case("id,date\na,2023-01-01\n",
                                    error=r"things\.csv: line 1: missing required column\(s\) \['amount'\]"),
    "ragged-rows": Case(HEADER + "a,1,2023-01-01\nb,2\nc,3,2023-01-01,extra\nd,4,2023-01-01\n", records=4,
                        check=_ragged),
    "nul-bytes": Case(HEADER + "a,1,2023-01-01\nb\x00,2,2023-01-01\n", records=2,
                      check=_malformed_because("NUL byte at character 2")),
    "one-megabyte-field": Case(f"id,amount,date,note\na,1,2023-01-01,{'x' * (1 << 20)}\nb,2,2023-01-01,y\n",
                               records=2, check=_big_field),
    "future-dates": Case(HEADER + "a,1,2023-01-01\nb,2,2999-01-01\n", records=2, check=_future),
    "mixed-date-formats": Case(HEADER + "a,1,2023-01-05\nb,2,5/1/2023\nc,3,Jan 5 2023\n", records=3,
                               source={"date_formats": ["yyyy-MM-dd", "d/M/yyyy"]}, check=_mixed_dates),
    "huge-numbers": Case(HEADER + "a,123456789012345678901234567890,2023-01-01\nb,1e400,2023-01-01\n"
                                  "c,-0.000000000000000000001,2023-01-01\n", records=3, check=_huge_numbers),
    "duplicate-rows": Case(HEADER + "a,1,2023-01-01\na,1,2023-01-01\n", records=2, check=_duplicates),
    "directory": Case(_directory, error=r"things\.csv"),
    "missing-file": Case(None, error=r"things\.csv"),
    "invalid-utf-8-bytes": Case(HEADER.encode() + b"a,1,2023-01-01\nb\xe9,2,2023-01-01\n", records=2,
                                check=_malformed_because("bytes not valid utf-8 at byte 2: 0xe9")),
    "invalid-cp1252-bytes": Case(HEADER.encode() + b"a\x81,1,2023-01-01\nb\x80,2,2023-01-01\n", records=2,
                                 source={"csv": {"encoding": "cp1252"}},
                                 check=_malformed_because("bytes not valid cp1252 at byte 2: 0x81")),
    "invalid-bytes-in-header": Case(b"id,amo\xffunt,date\n" + ROWS.encode(),
                                    error=r"things\.csv: line 1 \(the header\): bytes not valid utf-8 at byte 7: 0xff"),
    "quoted-newline-without-multiline": Case(HEADER + '"a\nx",1,2023-01-01\nb,2,2023-01-01\n', records=3,
                                             check=_quoted_newline),
    "unclosed-quote-with-multiline": Case(HEADER + 'a,1,2023-01-01\n"open,2,2023-01-01\nc,3,2023-01-01\n', records=2,
                                          source={"csv": {"multiline": True}}, check=_unclosed),
    "json-that-is-not-json": Case("id: a, amount: 1\n", source={"format": "json"}, name="things.json",
                                  error=r"things\.json: not valid JSON: Expecting value at line 1 column 1"),
    "jsonl-blank-lines": Case('{"id": "a", "amount": 1, "date": "2023-01-01"}\n\n   \n'
                              '{"id": "b", "amount": 2, "date": "2023-02-01"}\n\n', source={"format": "jsonl"},
                              name="things.jsonl", records=2),
    "jsonl-truncated-last-line": Case('{"id": "a", "amount": 1, "date": "2023-01-01"}\n{"id": "b", "amo',
                                      source={"format": "jsonl"}, name="things.jsonl", records=2,
                                      check=_malformed_because("not valid JSON: Unterminated string")),
    "jsonl-required-key-in-no-record": Case('{"id": "a", "date": "2023-01-01"}\n', source={"format": "jsonl"},
                                            name="things.jsonl",
                                            error=r"things\.jsonl: missing required column\(s\) \['amount'\]"),
    "parquet-that-is-not-parquet": Case(HEADER + ROWS, source={"format": "parquet"}, name="things.parquet",
                                        error=r"things\.parquet: not a Parquet file"),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_stops_with_one_line_naming_the_file_or_lands_every_record(spark, tmp_path, capsys, case):
    config = write_domain(tmp_path, {"path": case.name, **case.source},
                          rules=[{"name": "unique_id", "unique": ["id"], "severity": "drop"}])
    path = tmp_path / "data" / case.name
    path.parent.mkdir(parents=True, exist_ok=True)
    if callable(case.content):
        case.content(path)
    elif case.content is not None:
        data_file(tmp_path, case.name, case.content)
    code = build(tmp_path, config)
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    if case.error is not None:
        assert code == 1 and len(errors) == 1, errors
        assert "source things" in errors[0], errors[0]
        assert re.search(case.error, errors[0]), errors[0]
        assert not (Datamart(tmp_path / "dm", DOMAIN).table("bronze", "things") / "_delta_log").exists()
        return
    assert code == 0 and not errors, errors
    bronze, silver, quarantine = assert_accounted(tmp_path, case.records)
    if case.check is not None:
        case.check(bronze, silver, quarantine, tmp_path)
