"""The serving API (utils/serve/api.py) over HTTP on 127.0.0.1, against real stores:
loan default (the shared sample datamart) and churn (a small generated sample) trained
and registered in a temporary MLflow SQLite registry, a small recommendation datamart,
and the online store materialised from them. Every endpoint is called with httpx; the
OpenAPI contract is fuzzed with schemathesis (no 5xx).

Built once for the module: the churn and recommendation datamarts, two trainings, the
online store, one server. The two Spark builds take most of the module's time (one to
three minutes each on the 2-core machine, depending on what else runs); the tests
themselves take about 20 s.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("mlflow")
pytest.importorskip("fastapi")

import httpx  # noqa: E402
import pandas as pd  # noqa: E402

from utils.ml import tracking, train  # noqa: E402

KEY = "test-key-of-the-serving-api"
RELOAD_S = 0.5
CHURN, LOAN, RECO = "churn", "loan_default", "recommendation"
START = dt.date(2024, 1, 1)


@dataclass
class World:
    url: str
    datamart: Path
    online_url: str
    tracking_uri: str
    trained: dict  # domain -> train.train result
    tracked: dict  # domain -> tracking.Tracked

    def client(self, key: str | None = KEY) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key} if key else {}, timeout=60.0)


def _mlflow_client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(scope="module")
def world(spark, sample_datamart, tmp_path_factory):
    """The server on 127.0.0.1 over a churn + recommendation datamart, the sample loan
    datamart's features in the same online store, champions of churn and loan default."""
    from utils.cli import main
    from utils.domains.churn import synthetic as churn_synthetic
    from utils.domains.recommendation import synthetic as reco_synthetic
    from utils.serve import online_store
    from utils.serve.api import create_app, serve

    root = tmp_path_factory.mktemp("serve")
    datamart = root / "dm"
    uri = f"sqlite:///{root / 'mlflow.db'}"
    # the loan model trains (scikit-learn, on the sample datamart) while Spark builds the others
    background = ThreadPoolExecutor(1)
    loan = background.submit(train.train, None, sample_datamart, holdout_months=6, domain=LOAN)
    churn_synthetic.generate(root / "churn", 300, 11, start=START, months=8)
    assert main(["--domain", CHURN, "--data-root", str(root / "churn"), "--datamart", str(datamart),
                 "--master", "local[2]"]) == 0
    reco_synthetic.generate(root / "reco", 300, 5, start=START, months=6)
    assert main(["--domain", RECO, "--data-root", str(root / "reco"), "--datamart", str(datamart),
                 "--master", "local[2]"]) == 0

    trained = {CHURN: train.train(None, datamart, holdout_months=2, domain=CHURN), LOAN: loan.result()}
    background.shutdown()
    tracked = {CHURN: tracking.log_training(trained[CHURN], datamart, tracking_uri=uri, artifact_root=root / "art"),
               LOAN: tracking.log_training(trained[LOAN], sample_datamart, tracking_uri=uri,
                                           artifact_root=root / "art")}

    # the recommendation domain's champion: the recommenders evaluated at a cut inside the sample
    from utils.ml import recommend

    reco = recommend.run(spark, datamart, RECO, cut="2024-04-30", track=True, tracking_uri=uri,
                         out=root / "reco_eval.json")
    tracked[RECO] = reco["mlflow"]

    online_url = online_store.default_url(root / "online")
    online_store.materialize(datamart, [CHURN], url=online_url)
    online_store.materialize(sample_datamart, [LOAN], url=online_url)

    app = create_app(datamart, online_url=online_url, api_key=KEY, tracking_uri=uri, reload_seconds=RELOAD_S)
    with serve(app) as url:
        yield World(url, datamart, online_url, uri, trained, tracked)


def _an_entity(world: World, domain: str) -> tuple[str, dict]:
    """(entity id, its online record) of some entity of `domain` in the online store."""
    from utils.lake.config import load_config
    from utils.ml.feature_store import latest_features
    from utils.serve import online_store

    datamart = world.trained[domain]["metrics"]["datamart"]  # loan default's is the shared sample datamart
    entity = load_config(domain).gold.entity
    frame = latest_features(domain, dt.date(2100, 1, 1), datamart=datamart, features=[])
    store = online_store.open_store(world.online_url)
    try:
        for entity_id in frame[entity].astype(str).head(50):
            record = store.get(domain, entity_id)
            if record is not None:
                return entity_id, record
    finally:
        store.close()
    raise AssertionError(f"no {domain} entity in the online store")


def _wait_for_version(client: httpx.Client, domain: str, version: int | None, timeout_s: float = 30.0) -> dict:
    """/health's champion of `domain` once it is `version` (None: no champion)."""
    deadline = time.monotonic() + timeout_s
    while True:
        champion = client.get("/health").json()["domains"][domain]["champion"]
        if (champion or {}).get("version") == version or (champion is None and version is None):
            return champion
        if time.monotonic() > deadline:
            raise AssertionError(f"{domain}: champion {champion} is not version {version} after {timeout_s} s")
        time.sleep(RELOAD_S / 2)


# --------------------------------------------------------------------------- health, keys, limits


def test_health_needs_no_key_and_names_each_domains_champion_and_online_store(world):
    body = world.client(key=None).get("/health").json()
    assert body["status"] == "ok" and body["online_store"]["backend"] == world.online_url.split(":")[0]
    assert {CHURN, LOAN, RECO} <= set(body["domains"])
    churn = body["domains"][CHURN]["champion"]
    assert (churn["name"], churn["version"]) == ("churn_churn_60d", 1)
    assert (body["domains"][LOAN]["champion"]["name"]) == "loan_default_30dpd_6mob"
    reco = body["domains"][RECO]["champion"]  # the champion recommender registered by the fixture
    assert reco["name"] == "recommendation_interactions_30d" and body["domains"][RECO]["recommend"] is True
    assert body["domains"][CHURN]["online_store"]["rows"] > 0 and body["domains"][RECO]["predict"] is False


def test_every_endpoint_but_health_refuses_a_missing_or_wrong_key_with_401(world):
    calls = [("GET", f"/features/{CHURN}/C1", None), ("POST", f"/predict/{CHURN}", {"entity_id": "C1"}),
             ("GET", "/recommend/U1", None)]
    for key in (None, "wrong", KEY + "x", "é".encode()):  # the last: not ASCII (bytes, or httpx refuses it)
        with world.client(key=None) as client:
            for method, path, body in calls:
                headers = {} if key is None else {"X-API-Key": key}
                answer = client.request(method, path, json=body, headers=headers)
                assert answer.status_code == 401, (key, path)
                assert "API key" in answer.json()["detail"]


def test_openapi_declares_the_key_scheme_and_docs_are_served(world):
    with world.client(key=None) as client:
        schema = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200
    [(name, scheme)] = schema["components"]["securitySchemes"].items()
    assert scheme == {"type": "apiKey", "in": "header", "name": "X-API-Key",
                      "description": scheme["description"]}
    assert schema["paths"]["/predict/{domain}"]["post"]["security"] == [{name: []}]
    assert "security" not in schema["paths"]["/health"]["get"]


def test_a_body_over_1mb_is_refused_with_413_by_length_or_streamed(world):
    big = b'{"features": {"x": "' + b"a" * (2 * 1024 * 1024) + b'"}}'
    with world.client() as client:
        answer = client.post(f"/predict/{CHURN}", content=big, headers={"Content-Type": "application/json"})
        assert answer.status_code == 413 and "over" in answer.json()["detail"]

    def chunks():  # no Content-Length: chunked transfer, counted as it arrives
        for i in range(0, len(big), 64 * 1024):
            yield big[i:i + 64 * 1024]

    with world.client() as client:
        answer = client.post(f"/predict/{CHURN}", content=chunks(), headers={"Content-Type": "application/json"})
        assert answer.status_code == 413 and "Content-Length" not in answer.request.headers


def test_the_command_line_binds_loopback_and_logs_a_generated_key_once(world):
    """``python -m utils.serve.api`` without LAKEHOUSE_API_KEY: a key is generated, logged
    once, and opens the API; the server listens on 127.0.0.1 and stops on SIGTERM."""
    import os
    import queue
    import re
    import subprocess
    import sys
    import threading

    env = {k: v for k, v in os.environ.items() if k != "LAKEHOUSE_API_KEY"}
    command = [sys.executable, "-m", "utils.serve.api", "--datamart", str(world.datamart), "--port", "0",
               "--online-store", world.online_url, "--tracking-uri", world.tracking_uri]
    server = subprocess.Popen(command, cwd=Path(__file__).resolve().parent.parent, env=env, text=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in server.stderr], daemon=True).start()
    seen, url, deadline = [], None, time.monotonic() + 120
    try:
        while url is None:
            seen.append(lines.get(timeout=max(deadline - time.monotonic(), 0.1)))
            found = re.search(r"serving at (http://127\.0\.0\.1:\d+)", seen[-1])
            url = found.group(1) if found else None
        keys = [m.group(1) for line in seen if (m := re.search(r"X-API-Key: ([\w-]+)", line))]
        assert len(keys) == 1
        with httpx.Client(base_url=url, timeout=60) as client:
            assert client.get(f"/features/{CHURN}/x").status_code == 401
            entity, _ = _an_entity(world, CHURN)
            answer = client.post(f"/predict/{CHURN}", json={"entity_id": entity}, headers={"X-API-Key": keys[0]})
            assert answer.status_code == 200, answer.text
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0


# --------------------------------------------------------------------------- features and predictions


def test_features_come_from_the_online_store_and_unknowns_are_404(world):
    entity, record = _an_entity(world, CHURN)
    with world.client() as client:
        answer = client.get(f"/features/{CHURN}/{entity}")
        assert answer.status_code == 200
        body = answer.json()
        assert body["entity"] == entity and body["features"].keys() == record["features"].keys()
        assert str(body["snapshot_date"]) == str(record["snapshot_date"])
        assert client.get(f"/features/{CHURN}/no-such-customer").status_code == 404
        unknown = client.get(f"/features/nodomain/{entity}")
        assert unknown.status_code == 404 and "unknown domain" in unknown.json()["detail"]


@pytest.mark.parametrize("domain", [CHURN, LOAN])
def test_predict_by_entity_and_by_full_payload_give_the_same_score_as_the_trained_model(world, domain):
    entity, record = _an_entity(world, domain)
    trained = world.trained[domain]
    inputs = list(trained["training_frame"].drop(columns=["label"]).columns)
    with world.client() as client:
        by_entity = client.post(f"/predict/{domain}", json={"entity_id": entity})
        assert by_entity.status_code == 200, by_entity.text
        payload = {name: record["features"][name] for name in inputs}  # the store's values are JSON already
        by_payload = client.post(f"/predict/{domain}", json={"features": payload})
        assert by_payload.status_code == 200, by_payload.text
    a, b = by_entity.json(), by_payload.json()
    assert a["score"] == pytest.approx(b["score"], abs=1e-12)
    assert (a["features_from"], b["features_from"]) == ("online_store", "payload")
    assert a["snapshot_date"] == str(record["snapshot_date"]) and b["snapshot_date"] is None
    best = trained["metrics"]["best_model"]
    assert a["threshold"] == pytest.approx(trained["metrics"]["models"][best]["threshold"])
    assert a["threshold_source"].startswith("metrics.json") and a["label"] == int(a["score"] >= a["threshold"])
    assert (a["model"]["name"], a["model"]["version"]) == (world.tracked[domain].model_name, 1)
    row = pd.DataFrame([{n: payload[n] for n in inputs}]).astype({n: float for n in _numeric(trained)})
    assert a["score"] == pytest.approx(float(trained["model"].predict_proba(row)[0, 1]), abs=1e-9)


def _numeric(trained: dict) -> set[str]:
    return set(trained["metrics"]["features"]["numeric"])


def test_bad_payloads_are_422_with_the_reason(world):
    entity, record = _an_entity(world, CHURN)
    inputs = list(world.trained[CHURN]["training_frame"].drop(columns=["label"]).columns)
    full = {n: None for n in inputs}
    numeric = sorted(_numeric(world.trained[CHURN]))[0]
    cases = [  # (what the detail says, body)
        ("missing feature", {"features": {k: v for k, v in full.items() if k != inputs[0]}}),
        ("unknown feature 'shoe_size'", {"features": {**full, "shoe_size": 42}}),
        (f"feature '{numeric}' takes a number, got str", {"features": {**full, numeric: "many"}}),
        ("exactly one of entity_id or features", {"entity_id": entity, "features": full}),
        ("exactly one of entity_id or features", {}),
        ("extra", {"entity_id": entity, "colour": "red"}),
    ]
    with world.client() as client:
        for says, body in cases:
            answer = client.post(f"/predict/{CHURN}", json=body)
            assert answer.status_code == 422 and says in json.dumps(answer.json()["detail"]), (says, answer.text)
        assert client.post(f"/predict/{CHURN}", content=b"{not json",
                           headers={"Content-Type": "application/json"}).status_code == 422
        assert client.post(f"/predict/{CHURN}", content=b'{"features": {"%s": NaN}}' % numeric.encode(),
                           headers={"Content-Type": "application/json"}).status_code == 422


def test_unknown_domain_entity_or_a_domain_without_labels_is_404(world):
    with world.client() as client:
        assert client.post("/predict/nodomain", json={"entity_id": "x"}).status_code == 404
        assert client.post(f"/predict/{CHURN}", json={"entity_id": "no-such-customer"}).status_code == 404
        answer = client.post(f"/predict/{RECO}", json={"entity_id": "U1"})
        assert answer.status_code == 404 and "no classification label" in answer.json()["detail"]


def test_a_domain_without_champion_is_503_until_the_alias_is_set_again(world):
    name = world.tracked[LOAN].model_name
    registry = _mlflow_client(world.tracking_uri)
    entity, _ = _an_entity(world, LOAN)
    registry.delete_registered_model_alias(name, "champion")
    try:
        with world.client() as client:
            _wait_for_version(client, LOAN, None)
            answer = client.post(f"/predict/{LOAN}", json={"entity_id": entity})
            assert answer.status_code == 503 and "no champion" in answer.json()["detail"]
    finally:
        registry.set_registered_model_alias(name, "champion", "1")
    with world.client() as client:
        _wait_for_version(client, LOAN, 1)
        assert client.post(f"/predict/{LOAN}", json={"entity_id": entity}).status_code == 200


def test_a_new_champion_is_served_without_restart(world):
    """A second version of the churn model is registered and the alias moved to it: within
    the reload interval the predictions name it; moved back, version 1 is served again."""
    name = world.tracked[CHURN].model_name
    registry = _mlflow_client(world.tracking_uri)
    first = registry.get_model_version(name, "1")
    second = registry.create_model_version(name, first.source, run_id=first.run_id)
    entity, _ = _an_entity(world, CHURN)
    try:
        registry.set_registered_model_alias(name, "champion", second.version)
        with world.client() as client:
            _wait_for_version(client, CHURN, int(second.version))
            answer = client.post(f"/predict/{CHURN}", json={"entity_id": entity}).json()
            assert answer["model"] == {"name": name, "version": int(second.version), "run_id": first.run_id}
    finally:
        registry.set_registered_model_alias(name, "champion", "1")
    with world.client() as client:
        _wait_for_version(client, CHURN, 1)
        assert client.post(f"/predict/{CHURN}", json={"entity_id": entity}).json()["model"]["version"] == 1


# --------------------------------------------------------------------------- recommendations


def test_recommend_returns_top_k_of_the_latest_snapshot_with_the_fallback_flag(world):
    from utils.ml.retrieve import top_k

    latest = dt.date(2024, 6, 30)  # the last month end of the generated months
    user = next(u for u in (f"U{i:06d}" for i in range(1, 100)) if not top_k(world.datamart, u, latest, 5)["fallback"])
    with world.client() as client:
        answer = client.get(f"/recommend/{user}", params={"k": 5})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        expected = top_k(world.datamart, user, dt.date.fromisoformat(body["snapshot_date"]), 5)
        assert body["items"] == expected["items"] and body["fallback"] == expected["fallback"]
        assert [i["rank"] for i in body["items"]] == [1, 2, 3, 4, 5] and body["snapshot_date"] == "2024-06-30"
        stranger = client.get("/recommend/nobody-at-all", params={"k": 3}).json()
        assert stranger["fallback"] is True and len(stranger["items"]) == 3
        assert all(i["source"] == "popularity" for i in stranger["items"])
        earlier = client.get(f"/recommend/{user}", params={"k": 5, "as_of": "2024-03-15"}).json()
        assert earlier["snapshot_date"] == "2024-02-29"
        for params in ({"k": 0}, {"k": 101}, {"k": "ten"}, {"as_of": "15/03/2024"}, {"as_of": "0392-01-19"}):
            assert client.get(f"/recommend/{user}", params=params).status_code == 422, params
        old = client.get(f"/recommend/{user}", params={"as_of": "1999-01-01"})
        assert old.status_code == 404 and "no snapshot" in old.json()["detail"]


def test_concurrent_requests_are_all_answered(world):
    """Eight clients at once on every endpoint: no request fails for sharing the stores,
    the models or the recommender between worker threads."""
    churn, _ = _an_entity(world, CHURN)
    loan, _ = _an_entity(world, LOAN)
    calls = [("POST", f"/predict/{CHURN}", {"entity_id": churn}), ("POST", f"/predict/{LOAN}", {"entity_id": loan}),
             ("GET", f"/features/{CHURN}/{churn}", None), ("GET", "/recommend/U000010?k=5", None)] * 6

    def call(spec):
        method, path, body = spec
        with world.client() as client:
            return client.request(method, path, json=body).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(call, calls)) == {200}


# --------------------------------------------------------------------------- contract fuzzing


def test_contract_fuzzing_finds_no_server_error(world):
    """Schemathesis generates valid and invalid requests for every operation of the
    served OpenAPI schema (the key sent; also with the real domains in the path, or
    every domain would be unknown); none may answer 5xx."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error

    schema = schemathesis.openapi.from_url(f"{world.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/health", "/predict/{domain}", "/recommend/{user}"}
    for operation in operations:
        strategies = [operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
        if "{domain}" in operation.path:
            strategies += [operation.as_strategy(GenerationMode.POSITIVE, path_parameters={"domain": domain})
                           for domain in (CHURN, LOAN)]
        cases = st.one_of(strategies)

        @settings(max_examples=40, deadline=dt.timedelta(seconds=20), derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=cases)
        def fuzz(case):
            case.call_and_validate(base_url=world.url, headers={"X-API-Key": KEY}, checks=[not_a_server_error])

        fuzz()


def test_recommend_from_the_champion_recommender_gives_its_lists_with_the_model(world):
    import mlflow

    from utils.ml.recommenders import Recommender

    mlflow.set_registry_uri(world.tracking_uri)
    name = "recommendation_interactions_30d"
    fitted = mlflow.pyfunc.load_model(f"models:/{name}@champion").unwrap_python_model().recommender
    assert isinstance(fitted, Recommender)
    warm = sorted(fitted._known)[0]
    expected = fitted.recommend([warm], 5)
    with world.client() as client:
        health = client.get("/health").json()["domains"]["recommendation"]["champion"]
        assert health["name"] == name and health["cut"] == "2024-04-30"
        body = client.get(f"/recommend/{warm}", params={"k": 5, "source": "champion"}).json()
        assert [i["product_id"] for i in body["items"]] == list(expected["product_id"])
        assert body["model"]["version"] == world.tracked["recommendation"]["version"]
        assert body["snapshot_date"] == "2024-04-30" and body["fallback"] == bool(expected["fallback"].any())
        stranger = client.get("/recommend/nobody-at-all", params={"k": 3, "source": "champion"}).json()
        assert stranger["fallback"] is True and {i["source"] for i in stranger["items"]} == {"popularity"}
        mixed = client.get(f"/recommend/{warm}", params={"source": "champion", "as_of": "2024-03-15"})
        assert mixed.status_code == 422 and "source=retrieval" in mixed.json()["detail"]
        assert client.get(f"/recommend/{warm}", params={"source": "best"}).status_code == 422
