"""The FastAPI example (bindings/python/examples/fastapi_service.py) against the REST contract,
through FastAPI's TestClient."""

import pytest
from fastapi.testclient import TestClient

import inframind as im
from fastapi_service import create_app

TOKEN = "s3cret"
H = {"X-IM-Token": TOKEN}
CONFIG = {"concurrency": 4, "cpu_cores": 4.0, "memory_bytes": 8589934592}


@pytest.fixture(scope="module")
def demo_client(tmp_path_factory):
    app = create_app(token=TOKEN, demo=True, store_dir=str(tmp_path_factory.mktemp("store")), n_trees=30)
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def client(tmp_path):
    with TestClient(create_app(token=TOKEN, demo=False, store_dir=str(tmp_path), n_trees=20)) as c:
        yield c


def assert_error(r, status, code, field=None):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["code"] == code and body["error"]["message"]
    assert body["error"]["field"] == field, body
    return body["error"]


def test_auth(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert "im_api_runs" in client.get("/metrics").text
    assert_error(client.post("/optimize", json={}), 401, "unauthorized")
    assert_error(client.post("/optimize", json={}, headers={"X-IM-Token": "nope"}), 401, "unauthorized")
    # Unauthenticated bad JSON is still a 401: the token is checked first.
    assert_error(client.post("/builds/start", content=b"{", headers={"content-type": "application/json"}), 401, "unauthorized")


def test_no_token_configured_refuses_everything(tmp_path, monkeypatch):
    monkeypatch.delenv("INFRAMIND_TOKEN", raising=False)
    with TestClient(create_app(store_dir=str(tmp_path), demo=False)) as c:
        e = assert_error(c.post("/optimize", json={}, headers=H), 401, "unauthorized")
        assert "INFRAMIND_TOKEN" in e["message"]
        assert c.get("/healthz").status_code == 200


def test_build_lifecycle(client):
    r = client.post("/builds/start", json={"pipeline": "team/app", "tool": "cmake", "config": CONFIG,
                                           "labels": {"branch": "main"}, "run_id": "r1"}, headers=H)
    assert r.status_code == 201 and r.json() == {"run_id": "r1", "pipeline": "team/app", "status": "running"}
    # Same start again: 200, same answer. Different body: 409.
    again = client.post("/builds/start", json={"pipeline": "team/app", "tool": "cmake", "config": CONFIG,
                                               "labels": {"branch": "main"}, "run_id": "r1"}, headers=H)
    assert again.status_code == 200 and again.json() == r.json()
    assert_error(client.post("/builds/start", json={"pipeline": "team/app", "tool": "make", "run_id": "r1"}, headers=H), 409, "conflict")
    # A server-made id.
    auto = client.post("/builds/start", json={"pipeline": "team/app", "tool": "cmake"}, headers=H)
    assert auto.status_code == 201 and auto.json()["run_id"]

    s0 = client.post("/builds/step", json={"run_id": "r1", "name": "compile", "duration_s": 42.5, "status": "success",
                                           "max_rss_bytes": 123, "cpu_seconds": 80.1, "cache_hits": 10, "cache_misses": 2}, headers=H)
    assert s0.status_code == 201 and s0.json() == {"run_id": "r1", "step_index": 0}
    s1 = client.post("/builds/step", json={"run_id": "r1", "name": "test", "duration_s": 10}, headers=H)
    assert s1.json()["step_index"] == 1
    assert_error(client.post("/builds/step", json={"run_id": "nope", "name": "x", "duration_s": 1}, headers=H), 404, "not_found", "run_id")

    f = client.get("/features/r1", headers=H)
    assert f.status_code == 200
    fb = f.json()
    assert fb["run_id"] == "r1" and fb["schema"] == im.feature_schema()["fingerprint"]
    assert list(fb["features"]) == im.FEATURE_NAMES and fb["features"]["concurrency"] == 4.0
    assert fb["features"]["num_steps"] == 2.0
    assert_error(client.get("/features/nope", headers=H), 404, "not_found", "run_id")

    done = client.post("/builds/complete", json={"run_id": "r1", "status": "success", "duration_s": 60.0}, headers=H)
    assert done.status_code == 200 and done.json() == {"run_id": "r1", "status": "success", "classification": None}
    # Idempotent; a different completion is a conflict; no more steps.
    assert client.post("/builds/complete", json={"run_id": "r1", "status": "success", "duration_s": 60.0}, headers=H).json() == done.json()
    assert_error(client.post("/builds/complete", json={"run_id": "r1", "status": "failure", "duration_s": 61.0}, headers=H), 409, "conflict")
    assert_error(client.post("/builds/step", json={"run_id": "r1", "name": "late", "duration_s": 1}, headers=H), 409, "conflict")


def test_oom_failure_is_classified(client):
    client.post("/builds/start", json={"pipeline": "p", "tool": "cmake", "config": CONFIG, "run_id": "oom1"}, headers=H)
    log = "[ 12%] Building CXX object foo.o\ncc1plus: internal compiler error: Killed (program cc1plus)\nmake: *** Error 1\n"
    r = client.post("/builds/complete", json={"run_id": "oom1", "status": "failure", "duration_s": 30, "log_tail": log}, headers=H)
    body = r.json()
    assert r.status_code == 200 and body["status"] == "oom_killed"
    c = body["classification"]
    assert c["category"] == "oom" and 0 < c["confidence"] <= 1
    assert c["evidence"][0]["line"] == 2 and "Killed" in c["evidence"][0]["text"]
    assert c["remediation"]["action"] == "reduce_concurrency"
    # A failure with an uninformative log stays a failure.
    client.post("/builds/start", json={"pipeline": "p", "tool": "cmake", "config": CONFIG, "run_id": "f1"}, headers=H)
    r = client.post("/builds/complete", json={"run_id": "f1", "status": "failure", "duration_s": 30, "log_tail": "exit 1"}, headers=H)
    assert r.json()["status"] == "failure" and r.json()["classification"]["category"] == "unknown"


def test_invalid_input_names_the_field(client):
    e = assert_error(client.post("/builds/start", json={"pipeline": "p", "tool": "cmake",
                                                        "config": {**CONFIG, "concurrency": 0}}, headers=H), 422, "invalid_input", "config.concurrency")
    assert "config.concurrency = 0" in e["message"]
    assert_error(client.post("/builds/start", json={"tool": "cmake"}, headers=H), 422, "invalid_input", "pipeline")
    assert_error(client.post("/builds/start", content=b"{nope", headers={**H, "content-type": "application/json"}), 422, "invalid_input")
    assert_error(client.post("/builds/start", json=[1, 2], headers=H), 422, "invalid_input")
    client.post("/builds/start", json={"pipeline": "p", "tool": "cmake", "config": CONFIG, "run_id": "v1"}, headers=H)
    e = assert_error(client.post("/builds/step", json={"run_id": "v1", "name": "x", "duration_s": -1}, headers=H), 422, "invalid_input", "duration_s")
    assert "must be a finite number of seconds" in e["message"]
    assert_error(client.post("/builds/step", json={"run_id": "v1", "name": "x", "duration_s": 1, "status": "exploded"}, headers=H), 422, "invalid_input", "status")
    assert_error(client.post("/builds/complete", json={"run_id": "v1", "status": "running", "duration_s": 1}, headers=H), 422, "invalid_input", "status")
    assert_error(client.post("/optimize", json={"pipeline": "p", "context": {"tool": "cmake", "num_steps": 0}}, headers=H), 422, "invalid_input", "context.num_steps")
    assert_error(client.post("/optimize", json={"pipeline": "p", "context": {}}, headers=H), 422, "invalid_input", "context.tool")


def test_body_limit(client):
    big = b'{"pipeline": "' + b"x" * (1 << 20) + b'", "tool": "cmake"}'
    assert_error(client.post("/builds/start", content=big, headers={**H, "content-type": "application/json"}), 413, "payload_too_large")

    def chunks():
        yield big[: 1 << 19]
        yield big[1 << 19:]

    assert_error(client.post("/builds/start", content=chunks(), headers={**H, "content-type": "application/json"}), 413, "payload_too_large")


def test_unknown_pipeline_is_a_cold_start(client):
    r = client.post("/optimize", json={"pipeline": "new/one", "context": {"tool": "cargo"}}, headers=H)
    assert r.status_code == 200
    b = r.json()
    assert b["cold_start"] is True and b["pipeline"] == "new/one"
    assert b["env"]["CARGO_BUILD_JOBS"] == str(b["config"]["concurrency"])


def test_optimize_demo_pipeline(demo_client):
    req = {"pipeline": "demo/example-app",
           "context": {"tool": "cmake", "max_rss_gb": 4, "num_steps": 5, "avg_step_duration_s": 60}, "seed": 7}
    r = demo_client.post("/optimize", json=req, headers=H)
    assert r.status_code == 200, r.text
    b = r.json()
    for key in ("pipeline", "config", "predicted_duration_s", "spread_s", "baseline_duration_s", "expected_change_s",
                "explored", "cold_start", "guards", "rationale", "model_version", "env"):
        assert key in b, key
    assert b["cold_start"] is False and b["model_version"] == "v1"
    cfg = b["config"]
    assert cfg["memory_bytes"] >= 1.2 * 4 * 1024**3
    assert cfg["cpu_cores"] >= cfg["concurrency"] / 4
    assert b["env"] == im.tool_env("cmake", cfg)
    assert b["env"]["MAKEFLAGS"] == f"-j{cfg['concurrency']}"
    assert demo_client.post("/optimize", json=req, headers=H).json() == b
    # Demo runs have features too.
    f = demo_client.get("/features/demo-cmake-10", headers=H).json()
    assert f["features"]["history_runs"] == 10.0
    demo = im.demo_history("cmake", 300, 1)
    assert f["features"] == im.features(demo[10], demo[:10])
    # A seeded run is already completed.
    assert_error(demo_client.post("/builds/complete", json={"run_id": "demo-cmake-10", "status": "success", "duration_s": 1.0},
                                  headers=H), 409, "conflict")


def test_completed_runs_feed_the_model(client):
    for r in im.demo_history("npm", 40, 3):
        rid = "h-" + r["run_id"]
        client.post("/builds/start", json={"pipeline": "web", "tool": "npm", "config": r["config"], "run_id": rid}, headers=H)
        for s in r["steps"]:
            client.post("/builds/step", json={"run_id": rid, **s}, headers=H)
        assert client.post("/builds/complete", json={"run_id": rid, "status": r["status"], "duration_s": r["duration_s"]}, headers=H).status_code == 200
    b = client.post("/optimize", json={"pipeline": "web", "context": {"tool": "npm"}}, headers=H).json()
    assert b["cold_start"] is False and b["model_version"] == "v1"
    assert b["env"]["npm_config_jobs"] == str(b["config"]["concurrency"])


def run_once(client, pipeline, rid, status="success", duration_s=60.0, config=CONFIG, tool="npm", steps=()):
    """One run through the API: start, steps, complete."""
    r = client.post("/builds/start", json={"pipeline": pipeline, "tool": tool, "config": config, "run_id": rid}, headers=H)
    assert r.status_code == 201, r.text
    for s in steps:
        client.post("/builds/step", json={"run_id": rid, **s}, headers=H)
    r = client.post("/builds/complete", json={"run_id": rid, "status": status, "duration_s": duration_s}, headers=H)
    assert r.status_code == 200, r.text


def model_version(client, pipeline, tool="npm"):
    r = client.post("/optimize", json={"pipeline": pipeline, "context": {"tool": tool}}, headers=H)
    assert r.status_code == 200, r.text
    return r.json()["model_version"]


def test_status_names_are_the_cores():
    import fastapi_service

    assert fastapi_service.FINAL_STATUSES == set(im.RUN_STATUSES) - {"running"}


def test_the_first_model_comes_after_the_second_success(client):
    store = client.app.state.service.store
    run_once(client, "two", "t1")
    run_once(client, "two", "t2", status="failure")
    assert model_version(client, "two") is None
    assert "im_api_models 0\n" in client.get("/metrics").text and store.list("two") == []
    run_once(client, "two", "t3", duration_s=70.0)
    # Trained on this /optimize; the optimizer itself still answers cold below 10 successes.
    assert model_version(client, "two") is None
    assert "im_api_models 1\n" in client.get("/metrics").text
    assert [v["version"] for v in store.list("two")] == [1]
    # Nothing new since: no new version.
    model_version(client, "two")
    assert [v["version"] for v in store.list("two")] == [1]


def test_a_surprise_retrains_at_once(client):
    runs = im.demo_history("npm", 40, 3)
    for r in runs:
        run_once(client, "web", "w-" + r["run_id"], r["status"], r["duration_s"], r["config"], steps=r["steps"])
    assert model_version(client, "web") == "v1"
    service = client.app.state.service

    def expected(rid):
        run = {"run_id": rid, "pipeline": "web", "tool": "npm", "status": "success", "duration_s": 1.0,
               "config": CONFIG, "steps": []}
        return service.models["web"].predict(run, service.history["web"]).mean

    # As predicted: one new run of 41 is less than 5% new, so no retraining.
    run_once(client, "web", "as-expected", duration_s=expected("as-expected"))
    assert model_version(client, "web") == "v1"
    # An OOM kill is a surprise whatever the model said...
    run_once(client, "web", "oom", status="oom_killed", duration_s=30.0)
    assert model_version(client, "web") == "v2"
    # ...and so is a success ten times slower than predicted.
    run_once(client, "web", "slow", duration_s=10 * expected("slow"))
    assert service.progress["web"].surprise is True
    assert model_version(client, "web") == "v3"
    assert service.progress["web"].surprise is False


def test_names_follow_the_core_rule(client):
    long = "p" * 513
    for body in ({"pipeline": long, "tool": "cmake"}, {"pipeline": long, "tool": "cmake", "config": CONFIG}):
        e = assert_error(client.post("/builds/start", json=body, headers=H), 422, "invalid_input", "pipeline")
        assert "at most 512 bytes" in e["message"]
    e = assert_error(client.post("/optimize", json={"pipeline": long, "context": {"tool": "cmake"}}, headers=H),
                     422, "invalid_input", "pipeline")
    assert "at most 512 bytes" in e["message"]
    assert_error(client.post("/optimize", json={"pipeline": " ", "context": {"tool": "cmake"}}, headers=H),
                 422, "invalid_input", "pipeline")
    e = assert_error(client.post("/builds/start", json={"pipeline": "p", "tool": "cmake", "run_id": "a\0b"}, headers=H),
                     422, "invalid_input", "run_id")
    assert "NUL" in e["message"]
    assert_error(client.post("/builds/start", json={"pipeline": "p", "tool": "  "}, headers=H), 422, "invalid_input", "tool")
    assert client.post("/builds/start", json={"pipeline": "p" * 512, "tool": "cmake"}, headers=H).status_code == 201
