"""Optimizer.suggest through the binding: the answer's shape, cold starts, and a property test
that no suggestion breaks a guard, with the floors recomputed here from the rules in the root
README (not from the core's code)."""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import inframind as im

GIB = 1024.0**3
MIB = 1024.0**2
WINDOW = 50

SUGGESTION_FIELDS = {
    "config", "predicted_duration_s", "spread_s", "baseline_config", "baseline_duration_s",
    "expected_change_s", "explored", "cold_start", "guards", "candidates_considered",
    "candidates_rejected", "model_version", "seed", "rationale",
}


def test_suggestion_fields(model, history):
    s = im.Optimizer(model).suggest(history, {"tool": "cmake", "num_steps": 5}, seed=7)
    assert isinstance(s, im.Suggestion)
    d = s.to_dict()
    assert set(d) == SUGGESTION_FIELDS
    assert d["config"] == s.config and set(s.config) == {"concurrency", "cpu_cores", "memory_bytes"}
    assert isinstance(s.config["concurrency"], int) and isinstance(s.config["memory_bytes"], int)
    assert not s.cold_start and s.predicted_duration_s is not None and s.spread_s is not None
    assert s.baseline_duration_s is not None
    assert s.expected_change_s == pytest.approx(s.predicted_duration_s - s.baseline_duration_s)
    assert {g["name"] for g in s.guards} >= {"memory_floor", "cpu_floor"}
    assert all(isinstance(line, str) for line in s.rationale) and len(s.rationale) >= 3
    assert s.model_version == model.model_id
    assert 100 <= s.candidates_considered <= 200
    # The same seed gives the same answer.
    again = im.Optimizer(model).suggest(history, {"tool": "cmake", "num_steps": 5}, seed=7)
    assert again.to_dict() == d


def test_context_may_be_a_tool_name(model, history):
    a = im.Optimizer(model).suggest(history, "cmake", seed=1)
    b = im.Optimizer(model).suggest(history, {"tool": "cmake"}, seed=1)
    assert a.to_dict() == b.to_dict()


def test_cold_start_without_model_or_history(history):
    opt = im.Optimizer()
    assert opt.model is None
    empty = opt.suggest([], {"tool": "cmake"})
    assert empty.cold_start and empty.predicted_duration_s is None
    assert empty.config == {"concurrency": 4, "cpu_cores": 2.0, "memory_bytes": 4 << 30}
    assert any("no history" in line for line in empty.rationale)
    assert opt.suggest(None, "cmake").to_dict() == empty.to_dict()
    s = opt.suggest(history, {"tool": "cmake"})
    assert s.cold_start and not s.explored
    assert s.predicted_duration_s is not None  # the recent median
    assert s.config["memory_bytes"] >= [g for g in s.guards if g["name"] == "memory_floor"][0]["limit"]


def test_custom_defaults_and_params():
    opt = im.Optimizer(exploration=0.0, defaults={"concurrency": 2, "cpu_cores": 1.0, "memory_bytes": 2 << 30})
    assert opt.params["exploration"] == 0.0
    assert opt.suggest([], "make").config == {"concurrency": 2, "cpu_cores": 1.0, "memory_bytes": 2 << 30}
    with pytest.raises(im.InvalidInputError, match="exploration") as e:
        im.Optimizer(exploration=1.5)
    assert e.value.field == "exploration"


def test_no_safe_config_is_an_input_error(model, history):
    ctx = {"tool": "cmake", "capacity": {"memory_bytes": 1 << 30}}
    with pytest.raises(im.InvalidInputError, match="no safe configuration"):
        im.Optimizer(model).suggest(history, ctx)


# --- the guard property -------------------------------------------------------------------


def peak(run):
    if run.get("max_rss_bytes") is not None:
        return run["max_rss_bytes"]
    steps = [s["max_rss_bytes"] for s in run.get("steps", []) if s.get("max_rss_bytes") is not None]
    return max(steps) if steps else None


def quantile(values, q):
    v = sorted(values)
    if not v:
        return None
    pos = q * (len(v) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def memory_floor(history, context, jobs):
    """The README's memory guard at `jobs` parallel jobs."""
    recent = history[-WINDOW:]
    floors = []

    def died_at(r):
        """What a run that died of memory needed at least, else None."""
        limit = r["config"]["memory_bytes"]
        p = peak(r)
        if r["status"] == "oom_killed":
            return max(p if p is not None else limit, limit)
        if r["status"] == "failure" and p is not None and p >= 0.95 * limit:
            return max(p, limit)
        return None

    died = [(died_at(r), r) for r in recent if died_at(r) is not None]
    ok = [(peak(r), r) for r in recent if r["status"] == "success" and peak(r) is not None]
    anyp = [(peak(r), r) for r in recent if peak(r) is not None and died_at(r) is None]
    # Memory every build needs: the intercept of a least-squares line through the successful
    # peaks against their jobs, within [0, the smallest of them]; unknown without two job counts.
    base = None
    if ok:
        xs = [float(r["config"]["concurrency"]) for _, r in ok]
        ys = [p for p, _ in ok]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        if sxx > 0:
            sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
            base = min(max(my - sxy / sxx * mx, 0.0), min(ys))

    def scaled(p, run):
        ratio = jobs / max(run["config"]["concurrency"], 1)
        if ratio >= 1.0:
            return p * ratio
        if base is None:
            return p
        b = min(max(base, 0.0), p)
        return b + (p - b) * ratio

    learned = []
    if ok:
        learned.append(1.2 * quantile([scaled(p, r) for p, r in ok], 0.95))
        learned.append(quantile([p / r["config"]["concurrency"] for p, r in ok], 0.95) * jobs)
    if anyp:
        learned.append(1.1 * max(scaled(p, r) for p, r in anyp))
    if learned:
        # Capped by the most memory a successful run with at least these jobs had.
        proven = [r["config"]["memory_bytes"] for r in recent if r["status"] == "success" and r["config"]["concurrency"] >= jobs]
        floors.append(min(max(learned), max(proven)) if proven else max(learned))
    for d, r in died:
        c = max(r["config"]["concurrency"], 1)
        if jobs >= c:
            need = d * jobs / c
        else:
            b = min(base or 0.0, d)
            need = b + (d - b) * jobs / c
        floors.append(max(1.2 * need, need + 100 * MIB))
    declared = context.get("max_rss_bytes")
    if declared is None and context.get("max_rss_gb") is not None:
        declared = int(context["max_rss_gb"] * GIB)
    if declared is not None:
        floors.append(1.2 * declared)
    return max(floors, default=0.0)


@st.composite
def scenarios(draw):
    tool = draw(st.sampled_from(["cmake", "bazel", "gradle", "npm", "cargo"]))
    n = draw(st.integers(min_value=0, max_value=70))
    history = im.demo_history(tool, n, draw(st.integers(min_value=0, max_value=10_000)))
    # Turn some runs into OOM kills, OOM suspects or failures.
    for i in draw(st.lists(st.integers(min_value=0, max_value=max(n - 1, 0)), max_size=4)) if n else []:
        run = history[i]
        kind = draw(st.sampled_from(["oom_killed", "suspect", "failure"]))
        if kind == "oom_killed":
            run["status"] = "oom_killed"
        elif kind == "suspect":
            run["status"] = "failure"
            run["max_rss_bytes"] = int(run["config"]["memory_bytes"] * draw(st.floats(0.95, 1.3)))
        else:
            run["status"] = "failure"
    context = {"tool": tool}
    if draw(st.booleans()):
        context["max_rss_gb"] = draw(st.floats(min_value=0.0, max_value=16.0))
    if draw(st.booleans()):
        context["capacity"] = {
            "cpu_cores": draw(st.floats(min_value=1.0, max_value=32.0)),
            "memory_bytes": draw(st.integers(min_value=1 << 30, max_value=64 << 30)),
        }
    return history, context


@pytest.fixture(scope="module")
def models():
    return {t: im.DurationModel.train(im.demo_history(t, 150, 11), n_trees=15, seed=1) for t in ["cmake", "bazel", "gradle", "npm", "cargo"]}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios(), use_model=st.booleans(), seed=st.integers(min_value=0, max_value=2**63 - 1))
def test_no_suggestion_breaks_a_guard(models, scenario, use_model, seed):
    history, context = scenario
    opt = im.Optimizer(models[context["tool"]] if use_model else None)
    try:
        s = opt.suggest(history, context, seed=seed)
    except im.InvalidInputError as e:
        # Only a declared capacity can make every candidate unsafe.
        assert "capacity" in context and "no safe configuration" in str(e)
        return
    c = s.config
    floor = memory_floor(history, context, c["concurrency"])
    assert c["memory_bytes"] >= floor * (1 - 1e-12), (c, floor)
    assert c["cpu_cores"] >= c["concurrency"] / 4
    assert c["concurrency"] >= 1 and c["cpu_cores"] > 0 and c["memory_bytes"] > 0
    cap = context.get("capacity")
    if cap:
        assert c["cpu_cores"] <= cap["cpu_cores"]
        assert c["memory_bytes"] <= cap["memory_bytes"]
    assert s.cold_start == (not use_model or sum(r["status"] == "success" for r in history) < 10)
