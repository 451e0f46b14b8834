"""DurationModel: training from runs, fitting from NumPy, prediction, persistence."""

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import inframind as im


def test_train_exposes_names_importances_and_oob(model):
    assert model.feature_names == im.FEATURE_NAMES
    assert model.n_features == len(im.FEATURE_NAMES) == 19
    assert model.n_trees == 40
    imp = model.feature_importances
    assert isinstance(imp, np.ndarray) and imp.dtype == np.float64 and imp.shape == (19,)
    assert abs(imp.sum() - 1.0) < 1e-9
    # The demo pipeline's duration is driven by cores and jobs.
    top = {model.feature_names[i] for i in np.argsort(imp)[-3:]}
    assert top & {"cpu_cores", "concurrency", "jobs_per_core"}
    assert model.oob_score is not None and 0.3 < model.oob_score <= 1.0
    meta = model.metadata
    assert meta["pipeline"] == "demo/cmake-app"
    assert meta["schema"]["names"] == im.FEATURE_NAMES
    assert meta["model_id"] == model.model_id


def test_same_seed_same_model(history):
    a = im.DurationModel.train(history, n_trees=10, seed=5)
    b = im.DurationModel.train(history, n_trees=10, seed=5)
    c = im.DurationModel.train(history, n_trees=10, seed=6)
    assert a.model_id == b.model_id != c.model_id


def test_predict_run_equals_features_row(model, history):
    run, before = history[-1], history[:-1]
    p = model.predict(run, before)
    assert isinstance(p, im.Prediction)
    assert p.mean > 0 and p.spread >= 0
    assert float(p) == p.mean
    row = [im.features(run, before)[n] for n in im.FEATURE_NAMES]
    assert model.predict(row) == p
    assert model.predict(np.array(row)) == p
    assert p.to_dict() == {"mean": p.mean, "spread": p.spread}


def test_predict_context_needs_a_config(model, history):
    ctx = {"tool": "cmake", "num_steps": 5}
    cfg = {"concurrency": 6, "cpu_cores": 4.0, "memory_bytes": 8 << 30}
    a = model.predict(ctx, history, config=cfg)
    b = model.predict({**ctx, "config": cfg}, history)
    assert a == b
    with pytest.raises(im.InvalidInputError, match="needs a config") as e:
        model.predict(ctx, history)
    assert e.value.field == "config"


def test_more_cores_predicts_no_slower_on_average(model, history):
    ctx = {"tool": "cmake"}
    slow = model.predict(ctx, history, config={"concurrency": 2, "cpu_cores": 1.0, "memory_bytes": 8 << 30})
    fast = model.predict(ctx, history, config={"concurrency": 6, "cpu_cores": 6.0, "memory_bytes": 8 << 30})
    assert fast.mean < slow.mean


def test_predict_many_numpy_matches_single_rows(model, history):
    X = np.array([[im.features(r, history[:i])[n] for n in im.FEATURE_NAMES] for i, r in enumerate(history[:150])])
    assert X.dtype == np.float64 and X.flags["C_CONTIGUOUS"]
    means, spreads = model.predict_many(X, return_spread=True)
    assert means.shape == spreads.shape == (150,)
    for i in (0, 7, 149):
        p = model.predict(X[i])
        assert means[i] == p.mean and spreads[i] == p.spread
    # The input is read in place and left untouched.
    assert X.flags["WRITEABLE"]
    assert np.array_equal(model.predict_many(X), means)
    # Non-contiguous views, Fortran order, float32 and nested lists give the same answer.
    wide = np.zeros((150, 38))
    wide[:, ::2] = X
    assert np.array_equal(model.predict_many(wide[:, ::2]), means)
    assert np.array_equal(model.predict_many(np.asfortranarray(X)), means)
    assert np.allclose(model.predict_many(X.astype(np.float32)), means, rtol=1e-3)
    assert np.array_equal(model.predict_many(X.tolist()), means)
    # A read-only array is fine too.
    ro = X.copy()
    ro.setflags(write=False)
    assert np.array_equal(model.predict_many(ro), means)


def test_predict_many_runs_and_contexts(model, history):
    runs = history[-20:]
    before = history[:-20]
    means = model.predict_many(runs, before)
    assert means.shape == (20,)
    assert means[3] == model.predict(runs[3], before).mean
    cfgs = [{"concurrency": c, "cpu_cores": 4.0, "memory_bytes": 8 << 30} for c in (2, 4, 6)]
    ctxs = [{"tool": "cmake", "config": c} for c in cfgs]
    many = model.predict_many(ctxs, history)
    assert list(many) == [model.predict({"tool": "cmake"}, history, config=c).mean for c in cfgs]


def test_predict_many_wrong_width_names_counts(model):
    with pytest.raises(im.InvalidInputError, match="expected 19 features per row, got 3"):
        model.predict_many(np.zeros((4, 3)))
    with pytest.raises(im.InvalidInputError, match=r"x\[1\]\[2\]"):
        X = np.zeros((2, 19))
        X[1, 2] = np.nan
        model.predict_many(X)


def test_fit_from_numpy_like_scikit_learn():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 10, size=(400, 3))
    y = 3 * X[:, 0] + np.where(X[:, 1] > 5, 20.0, 0.0) + rng.normal(0, 0.1, 400)
    m = im.DurationModel.fit(X, y, n_trees=30, seed=1, feature_names=["a", "b", "c"])
    assert m.feature_names == ["a", "b", "c"]
    assert m.feature_importances[2] < 0.05
    p = m.predict([5.0, 8.0, 1.0])
    assert abs(p.mean - 35.0) < 3.0
    # Lists and integer arrays are converted.
    m2 = im.DurationModel.fit(X.tolist(), list(y), n_trees=30, seed=1, feature_names=["a", "b", "c"])
    assert m2.model_id == m.model_id
    with pytest.raises(im.InvalidInputError, match="y has 399 values but X has 400 rows"):
        im.DurationModel.fit(X, y[:-1])
    with pytest.raises(im.InvalidInputError, match="feature_names"):
        im.DurationModel.fit(X, y, feature_names=["a"])


def test_training_data_is_what_train_fits(history):
    X, y = im.training_data(history)
    n_ok = sum(r["status"] == "success" for r in history)
    assert X.shape == (n_ok, 19) and y.shape == (n_ok,) and X.dtype == y.dtype == np.float64
    ok = [i for i, r in enumerate(history) if r["status"] == "success"]
    assert y[5] == history[ok[5]]["duration_s"]
    row = im.features(history[ok[5]], history[max(0, ok[5] - 50):ok[5]])
    assert X[5][0] == row["concurrency"] and X[5][18] == ok[5]
    trained = im.DurationModel.train(history, n_trees=8, seed=2, max_features=1.0)
    fitted = im.DurationModel.fit(X, y, n_trees=8, seed=2, feature_names=im.FEATURE_NAMES)
    assert np.array_equal(trained.predict_many(X), fitted.predict_many(X))


def test_fit_model_refuses_run_dicts(history):
    m = im.DurationModel.fit(np.zeros((10, 19)) + np.arange(10)[:, None], np.arange(10.0), n_trees=5)
    with pytest.raises(im.ModelError, match="feature schema mismatch"):
        m.predict(history[-1], history[:-1])


def test_save_load_bytes_and_pickle(model, history, tmp_path):
    path = tmp_path / "m.imdm"
    model.save(path)
    again = im.DurationModel.load(str(path))
    assert again.model_id == model.model_id
    assert again.feature_names == model.feature_names
    assert np.array_equal(again.feature_importances, model.feature_importances)
    assert im.DurationModel.from_bytes(model.to_bytes()).model_id == model.model_id
    un = pickle.loads(pickle.dumps(model))
    assert un.model_id == model.model_id
    run = history[-1]
    assert un.predict(run, history[:-1]) == model.predict(run, history[:-1])


@settings(max_examples=25, deadline=None)
@given(
    tool=st.sampled_from(["cmake", "bazel", "gradle", "npm", "cargo"]),
    n=st.integers(min_value=12, max_value=80),
    seed=st.integers(min_value=0, max_value=2**32),
    n_trees=st.integers(min_value=1, max_value=12),
    leaf=st.one_of(st.none(), st.integers(min_value=1, max_value=8)),
    rows=st.lists(
        st.lists(st.floats(min_value=-1, max_value=1e4, allow_nan=False), min_size=19, max_size=19),
        min_size=1,
        max_size=8,
    ),
)
def test_save_load_round_trips_predictions_exactly(tool, n, seed, n_trees, leaf, rows):
    h = im.demo_history(tool, n, seed)
    m = im.DurationModel.train(h, n_trees=n_trees, seed=seed, min_samples_leaf=leaf)
    back = im.DurationModel.from_bytes(m.to_bytes())
    X = np.array(rows)
    a_mean, a_spread = m.predict_many(X, return_spread=True)
    b_mean, b_spread = back.predict_many(X, return_spread=True)
    assert a_mean.tobytes() == b_mean.tobytes() and a_spread.tobytes() == b_spread.tobytes()
    for i in range(len(h) - 3, len(h)):
        assert m.predict(h[i], h[:i]) == back.predict(h[i], h[:i])
    assert back.oob_score == m.oob_score
    assert back.metadata == m.metadata
