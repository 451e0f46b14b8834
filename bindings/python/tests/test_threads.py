"""Objects are shared between threads; heavy calls release the GIL."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import inframind as im


def test_many_threads_suggest_and_predict_at_once(model, history):
    opt = im.Optimizer(model)
    ctx = {"tool": "cmake", "num_steps": 5}
    X = np.array([[im.features(r, history[:i])[n] for n in im.FEATURE_NAMES] for i, r in enumerate(history[:64])])
    want_s = {seed: opt.suggest(history, ctx, seed=seed).to_dict() for seed in range(8)}
    want_p = model.predict(history[-1], history[:-1])
    want_many = model.predict_many(X)
    ps = im.PolicySet.from_yaml(
        "- name: r\n  condition: {labels: {alertname: A}}\n  action: {tool: t}\n"
    )
    barrier = threading.Barrier(16)

    def work(i):
        barrier.wait()
        out = []
        for k in range(6):
            seed = (i + k) % 8
            out.append(opt.suggest(history, ctx, seed=seed).to_dict() == want_s[seed])
            out.append(model.predict(history[-1], history[:-1]) == want_p)
            out.append(np.array_equal(model.predict_many(X), want_many))
            hook = {"version": "4", "status": "firing", "alerts": [
                {"status": "firing", "labels": {"alertname": "A", "n": f"{i}-{k}"}, "startsAt": "2024-05-01T10:00:00Z"}]}
            out.append(ps.evaluate(hook, dry_run=True)["decisions"][0]["outcome"] == "matched")
        return out

    with ThreadPoolExecutor(16) as pool:
        results = [r for rs in pool.map(work, range(16)) for r in rs]
    assert len(results) == 16 * 6 * 4 and all(results)


def test_training_releases_the_gil(history):
    """Another Python thread keeps running while a thread is inside `train` (it could not if
    the call held the GIL: a call into native code is never interrupted by the interpreter)."""
    started, done = threading.Event(), threading.Event()
    result = []

    def train():
        started.set()
        result.append(im.DurationModel.train(history, n_trees=150, seed=1))
        done.set()

    t = threading.Thread(target=train)
    t.start()
    started.wait()
    ticks = 0
    while not done.is_set():
        ticks += 1
        time.sleep(0.0005)
    t.join()
    assert result and result[0].n_trees == 150
    assert ticks > 5
