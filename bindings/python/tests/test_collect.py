"""Collectors (Linux /proc) through the binding, against real processes."""

import json
import os
import subprocess
import sys
import time

import pytest

import inframind as im

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the collectors read Linux /proc")


def test_system_sampler():
    s = im.SystemSampler()
    a = s.sample()
    sum(i * i for i in range(200_000))
    b = s.sample()
    assert 0.0 <= b["cpu_usage_ratio"] <= 1.0
    assert b["cpu_count"] == os.cpu_count()
    assert 0 < b["mem_used_bytes"] <= b["mem_total_bytes"]
    assert b["cpu_seconds_total"] >= a["cpu_seconds_total"]
    assert b["io_read_bytes_total"] >= a["io_read_bytes_total"]


def test_process_tree_sampler_follows_children():
    child = subprocess.Popen([sys.executable, "-c", "import time; x = bytearray(64 << 20); time.sleep(30)"])
    try:
        tree = im.ProcessTreeSampler(os.getpid())
        assert tree.pid == os.getpid()
        deadline = time.time() + 20
        while True:
            s = tree.sample()
            if s["rss_bytes"] > 64 << 20 or time.time() > deadline:
                break
            time.sleep(0.05)
        assert s["root_pid"] == os.getpid() and s["root_alive"]
        assert s["processes"] >= 2
        assert s["rss_bytes"] > 64 << 20 and s["peak_rss_bytes"] >= s["rss_bytes"]
        assert s["cpu_seconds_total"] > 0
    finally:
        child.kill()
        child.wait()
    after = tree.sample()
    assert after["cpu_seconds_total"] >= s["cpu_seconds_total"]
    assert after["peak_rss_bytes"] >= s["peak_rss_bytes"]


def test_missing_pid_is_a_process_lookup_error():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    with pytest.raises(ProcessLookupError, match=f"no process with pid {p.pid}") as e:
        im.ProcessTreeSampler(p.pid)
    assert e.value.field == "pid" and e.value.kind == "not_found"
    assert isinstance(e.value, OSError) and not isinstance(e.value, im.InframindError)
    with pytest.raises(ProcessLookupError, match=f"no process with pid {p.pid}"):
        im.Collector(p.pid)


def test_collector_snapshot():
    c = im.Collector(os.getpid())
    snap = c.sample()
    assert snap.timestamp_ms > 1_600_000_000_000
    assert snap.tree is not None and snap.tree["root_pid"] == os.getpid()
    assert snap.caches == [] and c.last_cache_error is None
    line = snap.to_json_line()
    assert "\n" not in line and json.loads(line) == json.loads(json.dumps(snap.to_dict()))
    text = snap.render_prometheus()
    assert "# TYPE im_cpu_usage_ratio gauge\n" in text
    assert f'im_build_processes{{pid="{os.getpid()}"}} ' in text
    assert im.Collector().sample().tree is None
    with pytest.raises(im.InvalidInputError):
        im.Collector(cache_interval_s=-1)


def test_cache_stats_parsers():
    c = im.parse_ccache_stats("cache_miss\t1\ndirect_cache_hit\t2\ndirect_cache_miss\t1\npreprocessed_cache_hit\t1\n")
    assert c == {"tool": "ccache", "hits": 3, "misses": 1, "hit_ratio": 0.75}
    s = im.parse_sccache_stats('{"stats":{"cache_hits":{"counts":{"C/C++":4,"Rust":1}},"cache_misses":{"counts":{"C/C++":5}}}}')
    assert (s["tool"], s["hits"], s["misses"], s["hit_ratio"]) == ("sccache", 5, 5, 0.5)
    assert im.parse_ccache_stats("cache_miss\t0\ndirect_cache_hit\t0\npreprocessed_cache_hit\t0\n")["hit_ratio"] is None
    with pytest.raises(im.CollectorError, match="ccache --print-stats"):
        im.parse_ccache_stats("Cacheable calls: 2 / 2 (100.0%)\n")
    with pytest.raises(im.InvalidInputError):
        im.parse_sccache_stats("not json")


def test_cache_tools_when_installed_or_not():
    # ccache/sccache are not required: None means "not installed", otherwise real statistics.
    for fn in (im.ccache_stats, im.sccache_stats):
        out = fn()
        assert out is None or (out["hits"] >= 0 and out["misses"] >= 0)
