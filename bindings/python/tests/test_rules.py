"""The core's decisions a host needs: status names, the name rule and the retrain policy."""

import pytest

import inframind as im


def test_run_statuses_are_the_cores():
    assert im.RUN_STATUSES == ("running", "success", "failure", "oom_killed", "timeout", "cancelled")
    for status in im.RUN_STATUSES:
        run = {"run_id": "r", "pipeline": "p", "tool": "make", "status": status, "duration_s": 1.0,
               "config": {"concurrency": 1, "cpu_cores": 1.0, "memory_bytes": 1 << 30}}
        assert im.validate_run(run)["status"] == status


def test_check_name():
    assert im.check_name("pipeline", "team/app") is None
    assert im.check_name("pipeline", "x" * 512) is None
    for bad, why in (("x" * 513, "at most 512 bytes"), ("é" * 257, "at most 512 bytes"),
                     ("  ", "blank"), ("", "blank"), ("ma\0ke", "NUL")):
        with pytest.raises(im.InvalidInputError, match=why) as e:
            im.check_name("tool", bad)
        assert (e.value.field, e.value.kind) == ("tool", "invalid_input")


def test_retrain_policy_defaults_and_overrides():
    p = im.RetrainPolicy()
    assert (p.min_successes, p.growth, p.min_new, p.max_new, p.surprise_spreads, p.surprise_share) == \
        (2, 0.05, 1, 50, 3.0, 0.15)
    q = im.RetrainPolicy(min_successes=5, growth=0.1, max_new=20)
    assert (q.min_successes, q.growth, q.max_new, q.surprise_spreads) == (5, 0.1, 20, 3.0)
    assert "min_successes=5" in repr(q)
    for kwargs, field in (({"min_successes": 1}, "min_successes"), ({"growth": 1.5}, "growth"),
                          ({"max_new": 0}, "max_new"), ({"surprise_spreads": float("nan")}, "surprise_spreads"),
                          ({"max_new": -1}, "max_new")):
        with pytest.raises(im.InvalidInputError) as e:
            im.RetrainPolicy(**kwargs)
        assert e.value.field == field
    with pytest.raises(TypeError):
        im.RetrainPolicy(2)  # keyword only


def test_is_due_follows_the_core():
    p = im.RetrainPolicy()
    assert p.is_due(5, 1) is None, "one success is too few"
    assert p.is_due(2, 2) == "first_model"
    assert p.is_due(5, 2, trained_at=5) is None, "a failed attempt, nothing new"
    assert p.is_due(6, 2, trained_at=5) == "first_model"
    assert p.is_due(41, 38, trained_at=40, has_model=True) is None
    assert p.is_due(43, 40, trained_at=40, has_model=True) == "growth"
    assert p.is_due(41, 38, trained_at=40, has_model=True, surprise=True) == "surprise"
    assert p.is_due(40, 38, trained_at=40, has_model=True, surprise=True) is None
    assert [p.new_runs_needed(n) for n in (0, 21, 200, 100_000)] == [1, 2, 10, 50]
    every = im.RetrainPolicy.every(20)
    assert every.is_due(219, 219, trained_at=200, has_model=True) is None
    assert every.is_due(220, 220, trained_at=200, has_model=True) == "growth"
    with pytest.raises(im.InvalidInputError) as e:
        p.is_due(-1, 0)
    assert e.value.field == "completed"


def test_is_surprise_follows_the_core():
    p = im.RetrainPolicy()
    assert p.is_surprise("oom_killed", 5.0)
    assert not p.is_surprise("success", 500.0), "nothing predicted"
    assert not p.is_surprise("success", 110.0, 100.0, 2.0), "5 spreads but 10%"
    assert p.is_surprise("success", 120.0, 100.0, 2.0), "10 spreads and 20%"
    assert not p.is_surprise("success", 160.0, predicted_mean=100.0, predicted_spread=30.0), "2 spreads"
    assert not p.is_surprise("failure", 500.0, 100.0, 2.0)
    with pytest.raises(im.InvalidInputError) as e:
        p.is_surprise("exploded", 1.0)
    assert e.value.field == "status"
    with pytest.raises(im.InvalidInputError) as e:
        p.is_surprise("success", 1.0, predicted_mean=1.0)
    assert e.value.field == "predicted_spread"
