"""History: runs converted once, accepted wherever a list of run dicts is."""

import copy

import numpy as np
import pytest

import inframind as im


def test_history_is_a_sequence_of_runs(history):
    h = im.History(history)
    assert len(h) == 300 and h[0] == history[0] and h[-1] == history[-1]
    assert h.to_list() == history
    assert h.successes == sum(r["status"] == "success" for r in history)
    part = h[:100]
    assert isinstance(part, im.History) and len(part) == 100 and part[-1] == history[99]
    assert h[::100].to_list() == history[::100]
    with pytest.raises(IndexError):
        h[300]
    assert len(im.History()) == 0 and repr(h).startswith("History(300 runs")


def test_history_gives_the_same_answers_as_dicts(model, history):
    h = im.History(history)
    ctx = {"tool": "cmake", "num_steps": 5}
    opt = im.Optimizer(model)
    assert opt.suggest(h, ctx, seed=3).to_dict() == opt.suggest(history, ctx, seed=3).to_dict()
    assert model.predict(history[-1], h[:-1]) == model.predict(history[-1], history[:-1])
    cfg = {"concurrency": 5, "cpu_cores": 4.0, "memory_bytes": 6 << 30}
    assert model.predict(ctx, h, config=cfg) == model.predict(ctx, history, config=cfg)
    assert im.features(history[-1], h[:-1]) == im.features(history[-1], history[:-1])
    Xa, ya = im.training_data(h)
    Xb, yb = im.training_data(history)
    assert np.array_equal(Xa, Xb) and np.array_equal(ya, yb)
    a = im.DurationModel.train(h, n_trees=5, seed=1)
    b = im.DurationModel.train(history, n_trees=5, seed=1)
    assert a.model_id == b.model_id


def test_append_checks_each_run(history):
    h = im.History(history[:10])
    h.append(history[10])
    h.extend(history[11:20])
    assert h.to_list() == history[:20]
    bad = copy.deepcopy(history[20])
    bad["duration_s"] = -1
    with pytest.raises(im.InvalidInputError) as e:
        h.append(bad)
    assert e.value.field == "duration_s"
    with pytest.raises(im.InvalidInputError) as e:
        h.extend([history[20], bad])
    assert e.value.field == "history[21].duration_s"
    assert len(h) == 20
    with pytest.raises(im.InvalidInputError) as e:
        im.History([history[0], bad])
    assert e.value.field == "history[1].duration_s"


def test_a_call_sees_the_history_as_it_was(model, history):
    h = im.History(history[:200])
    snapshot = h[:]
    h.extend(history[200:])
    assert len(snapshot) == 200 and len(h) == 300
