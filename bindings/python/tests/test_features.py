"""features, feature_schema, demo_history, tool_env, validate_*."""

import math

import pytest

import inframind as im


def test_features_by_name(history):
    f = im.features(history[100], history[:100])
    assert list(f) == im.FEATURE_NAMES
    assert all(math.isfinite(v) for v in f.values())
    cfg = history[100]["config"]
    assert f["concurrency"] == cfg["concurrency"] and f["cpu_cores"] == cfg["cpu_cores"]
    assert f["memory_gib"] == cfg["memory_bytes"] / 1024**3
    assert f["history_runs"] == 100 and f["tool_code"] == 1.0
    # Without history the history features are unknown (-1).
    f0 = im.features(history[100])
    assert f0["rss_p95_gib"] == -1 and f0["history_runs"] == 0


def test_feature_schema():
    s = im.feature_schema()
    assert s["names"] == im.FEATURE_NAMES and len(s["fingerprint"]) == 16


def test_demo_history_is_reproducible():
    a = im.demo_history("gradle", 50, 42)
    assert a == im.demo_history("gradle", 50, 42) != im.demo_history("gradle", 50, 43)
    assert len(a) == 50 and all(r["tool"] == "gradle" for r in a)
    assert im.demo_history("cmake", 0, 1) == []
    with pytest.raises(im.InvalidInputError):
        im.demo_history("cmake", -1, 1)


def test_tool_env():
    cfg = {"concurrency": 6, "cpu_cores": 4.5, "memory_bytes": 8 << 30}
    env = im.tool_env("cmake", cfg)
    assert env == {
        "INFRAMIND_CONCURRENCY": "6",
        "INFRAMIND_CPU_CORES": "4.5",
        "INFRAMIND_MEMORY_MB": "8192",
        "MAKEFLAGS": "-j6",
        "CMAKE_BUILD_PARALLEL_LEVEL": "6",
    }
    assert im.tool_env("cargo", cfg)["CARGO_BUILD_JOBS"] == "6"
    with pytest.raises(im.InvalidInputError) as e:
        im.tool_env("cmake", {**cfg, "concurrency": 0})
    assert e.value.field == "config.concurrency"


def test_validate_run_normalises(history):
    run = {"run_id": "1", "pipeline": "p", "tool": "make", "status": "success", "duration_s": 3,
           "config": {"concurrency": 1, "cpu_cores": 1, "memory_bytes": 1}}
    out = im.validate_run(run)
    assert out["steps"] == [] and out["duration_s"] == 3.0 and out["config"]["cpu_cores"] == 1.0
    assert im.validate_run(history[0]) == history[0]
    assert im.validate_context({"tool": "cmake", "max_rss_gb": 4}) == {"tool": "cmake", "max_rss_gb": 4.0}
