"""The demo API server (utils.ingest.demo_api), tested over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import random
import select
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from utils.ingest.demo_api import Faults, create_app, load_datasets, serve

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCE = "churn/support_tickets"
TOKEN = "s3cr3t-demo-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def make_records(n: int = 237, seed: int = 7) -> list[dict]:
    """n tickets with ids 1..n, shuffled, with tied updated_at values, a nested object and text."""
    records = [
        {
            "id": i,
            "updated_at": f"2024-03-{1 + (i * 5) % 28:02d}T10:{i % 3:02d}:00Z",
            "customer": {"id": f"C{i % 40:03d}", "plan": {"tier": ["free", "pro"][i % 2], "seats": i % 5}},
            "text": f'ticket #{i}: café "quoted", line\nbreak',
        }
        for i in range(1, n + 1)
    ]
    random.Random(seed).shuffle(records)
    return records


def served_order(records: list[dict]) -> list[dict]:
    return sorted(records, key=lambda r: (r["updated_at"], r["id"]))


@pytest.fixture(scope="module")
def demo():
    """One demo API (token TOKEN) for the whole module; see `api` for the per-test state."""
    datasets: dict[str, list[dict]] = {}
    app = create_app(datasets, Faults(), token=TOKEN)
    with serve(app) as url:
        yield SimpleNamespace(url=url, app=app, datasets=datasets)


@pytest.fixture()
def api(demo):
    """The module's demo API with fresh records (`api.records`, mutable while serving) and no faults."""
    demo.records = demo.datasets[SOURCE] = make_records()
    demo.app.faults = Faults()
    return demo


@pytest.fixture(scope="module")
def http():
    """One client for the module (building an httpx client costs ~50 ms)."""
    with httpx.Client(timeout=5) as client:
        yield client


def walk(http: httpx.Client, first_url: str, params: dict | None, step, limit: int = 100) -> list[dict]:
    """Every record met following `step(response, params) -> (url, params) or None`; bounded by `limit`."""
    got: list[dict] = []
    url = first_url
    for _ in range(limit):
        response = http.get(url, params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        got.extend(response.json()["data"])
        following = step(response, params)
        if following is None:
            return got
        url, params = following
    raise AssertionError("pagination did not end")


def statuses(http: httpx.Client, api, n: int, timeout: float = 5) -> list:
    """The status (or exception name) of n GETs of the first page."""
    out = []
    for _ in range(n):
        try:
            response = http.get(f"{api.url}/{SOURCE}", params={"page_size": 10}, headers=AUTH, timeout=timeout)
            out.append(response.status_code)
        except httpx.HTTPError as exc:
            out.append(type(exc).__name__)
    return out


def test_health_answers_without_token(http, api):
    response = http.get(f"{api.url}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "sources": [SOURCE]}


def test_page_style_serves_every_record_once_in_order(http, api):
    def step(response, params):
        if len(response.json()["data"]) < 50:
            return None
        return response.url.copy_with(query=None), {**params, "page": params["page"] + 1}

    got = walk(http, f"{api.url}/{SOURCE}", {"page": 1, "page_size": 50}, step)
    assert got == served_order(api.records)


@pytest.mark.parametrize("size_param", ["limit", "page_size"])
def test_offset_style_serves_every_record_once_in_order(http, api, size_param):
    def step(response, params):
        n = len(response.json()["data"])
        return None if n < 40 else (response.url.copy_with(query=None), {**params, "offset": params["offset"] + n})

    got = walk(http, f"{api.url}/{SOURCE}", {"offset": 0, size_param: 40}, step)
    assert got == served_order(api.records)


def test_cursor_style_serves_every_record_once_in_order(http, api):
    def step(response, params):
        token = response.json()["next_cursor"]
        return None if token is None else (response.url.copy_with(query=None), {"page_size": 30, "cursor": token})

    got = walk(http, f"{api.url}/{SOURCE}", {"page_size": 30}, step)
    assert got == served_order(api.records)


@pytest.mark.parametrize("first", [{"page": 1, "page_size": 60}, {"offset": 0, "limit": 60}, {"page_size": 60}])
def test_link_header_leads_through_every_record_once_in_order(http, api, first):
    def step(response, params):
        target = response.links.get("next", {}).get("url")
        return None if target is None else (target, None)

    got = walk(http, f"{api.url}/{SOURCE}", first, step)
    assert got == served_order(api.records)


def test_no_pagination_params_serve_every_record_in_one_page(http, api):
    response = http.get(f"{api.url}/{SOURCE}", headers=AUTH)
    assert response.json() == {"data": served_order(api.records), "next_cursor": None, "page": 1, "total": 237}
    assert "link" not in response.headers


def test_last_page_has_no_next_cursor_nor_link(http, api):
    response = http.get(f"{api.url}/{SOURCE}", params={"page": 3, "page_size": 100}, headers=AUTH)
    body = response.json()
    assert body["next_cursor"] is None and len(body["data"]) == 37 and body["page"] == 3
    assert "link" not in response.headers


def test_updated_since_keeps_only_records_updated_after_it(http, api):
    since = "2024-03-20T10:00:00Z"
    body = http.get(f"{api.url}/{SOURCE}", params={"updated_since": since}, headers=AUTH).json()
    assert body["data"] == [r for r in served_order(api.records) if r["updated_at"] > since]
    assert body["total"] == len(body["data"]) > 0


def test_records_added_while_serving_are_served(http, api):
    api.records.append({"id": 999, "updated_at": "2025-01-01T00:00:00Z"})
    body = http.get(f"{api.url}/{SOURCE}", params={"updated_since": "2024-12-31"}, headers=AUTH).json()
    assert [r["id"] for r in body["data"]] == [999]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_request_without_the_right_bearer_token_gets_401(http, api, headers):
    response = http.get(f"{api.url}/{SOURCE}", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_without_a_token_configured_no_auth_is_needed(http):
    with serve(create_app({SOURCE: make_records()}, Faults())) as url:
        assert http.get(f"{url}/{SOURCE}").status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [(f"/{SOURCE}x", {}, 404), (f"/{SOURCE}", {"cursor": "not-a-cursor"}, 400), (f"/{SOURCE}", {"page": 0}, 422)],
)
def test_bad_requests_get_a_4xx(http, api, path, params, status):
    assert http.get(f"{api.url}{path}", params=params, headers=AUTH).status_code == status


def test_rate_limit_fault_answers_every_nth_request_429_with_retry_after(http, api):
    api.app.faults = Faults(rate_limit_every=3, retry_after_s=2)
    assert statuses(http, api, 8) == [200, 200, 429, 200, 200, 429, 200, 200]
    response = http.get(f"{api.url}/{SOURCE}", headers=AUTH)
    assert response.status_code == 429 and response.headers["retry-after"] == "2"


def test_burst_fault_fails_k_requests_alternating_500_503_then_serves_m(http, api):
    api.app.faults = Faults(burst_5xx=3, burst_every=2)
    assert statuses(http, api, 10) == [500, 503, 500, 200, 200, 500, 503, 500, 200, 200]


def test_slow_fault_answers_late_but_correctly(http, api):
    api.app.faults = Faults(slow_every=2, slow_s=0.6)
    assert statuses(http, api, 2, timeout=0.3) == [200, "ReadTimeout"]
    started = time.monotonic()
    assert statuses(http, api, 2) == [200, 200]
    assert time.monotonic() - started >= 0.6


def test_malformed_fault_sends_200_with_truncated_json(http, api):
    api.app.faults = Faults(malformed_every=2)
    good = http.get(f"{api.url}/{SOURCE}", params={"page_size": 10}, headers=AUTH)
    bad = http.get(f"{api.url}/{SOURCE}", params={"page_size": 10}, headers=AUTH)
    assert bad.status_code == 200
    assert bad.content == good.content[: len(good.content) // 2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad.content)


def test_drop_fault_closes_the_connection_without_a_response(http, api):
    api.app.faults = Faults(drop_every=2)
    result = statuses(http, api, 4)
    assert result[0::2] == [200, 200]
    assert set(result[1::2]) <= {"RemoteProtocolError", "ReadError"}, result


def test_down_fault_answers_503_until_switched_off(http, api):
    api.app.faults = Faults(down=True)
    assert statuses(http, api, 3) == [503, 503, 503]
    api.app.faults.down = False
    assert statuses(http, api, 1) == [200]


def test_health_checks_do_not_advance_the_fault_counter(http, api):
    api.app.faults = Faults(rate_limit_every=2)
    for _ in range(3):
        http.get(f"{api.url}/health")
    assert statuses(http, api, 2) == [200, 429]
    assert api.app.faults.requests == 2


def test_serve_stops_the_server_on_exit():
    with serve(create_app({SOURCE: make_records()}, Faults())) as url:
        pass
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=1)


def test_load_datasets_reads_every_domain_api_jsonl(tmp_path):
    (tmp_path / "churn" / "api").mkdir(parents=True)
    (tmp_path / "churn" / "api" / "support_tickets.jsonl").write_text('{"id": 1}\n\n{"id": 2, "x": {"y": "é"}}\n')
    (tmp_path / "churn" / "files").mkdir()
    (tmp_path / "churn" / "files" / "other.jsonl").write_text('{"id": 3}\n')
    assert load_datasets(tmp_path) == {"churn/support_tickets": [{"id": 1}, {"id": 2, "x": {"y": "é"}}]}


def test_load_datasets_names_the_file_and_line_of_a_bad_record(tmp_path):
    (tmp_path / "d" / "api").mkdir(parents=True)
    (tmp_path / "d" / "api" / "s.jsonl").write_text('{"id": 1}\n[1, 2]\n')
    with pytest.raises(ValueError, match=r"s\.jsonl:2: a JSON list"):
        load_datasets(tmp_path)


def test_cli_help_exits_0():
    result = subprocess.run(
        [sys.executable, "-m", "utils.ingest.demo_api", "--help"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0
    assert "--rate-limit-every" in result.stdout


def test_cli_serves_the_data_dir_and_logs_a_generated_token_once(http, tmp_path):
    (tmp_path / "churn" / "api").mkdir(parents=True)
    (tmp_path / "churn" / "api" / "support_tickets.jsonl").write_text('{"id": 1}\n{"id": 2}\n')
    env = {k: v for k, v in os.environ.items() if k != "DEMO_API_TOKEN"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "utils.ingest.demo_api", "--data", str(tmp_path), "--port", "0"],
        cwd=PROJECT_ROOT, env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines, deadline = [], time.monotonic() + 30
        while time.monotonic() < deadline and not any("serving http" in line for line in lines):
            ready, _, _ = select.select([proc.stderr], [], [], max(0.0, deadline - time.monotonic()))
            if not ready or not (line := proc.stderr.readline()):
                break
            lines.append(line)
        token = next(line.split("Bearer ")[1].split("'")[0] for line in lines if "Bearer " in line)
        served = next(line.split("serving ")[1].split(" (")[0] for line in lines if "serving http" in line)
        assert served.startswith("http://127.0.0.1:") and served.endswith("/churn/support_tickets")
        assert http.get(served).status_code == 401
        body = http.get(served, headers={"Authorization": f"Bearer {token}"}).json()
        assert body["data"] == [{"id": 1}, {"id": 2}]
        assert sum(token in line for line in lines) == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stderr.close()
