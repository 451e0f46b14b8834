#!/usr/bin/env python3
"""inframind beside scikit-learn, in one process, on the same data.

Measures, on the rows the core builds from a demo pipeline's history (``inframind.training_data``):

* fit time: ``DurationModel.fit(X, y)`` (and ``DurationModel.train(runs)``, features included)
  against ``RandomForestRegressor(n_estimators=100, n_jobs=-1).fit(X, y)``;
* 1-row and 150-row prediction latency, including the Python call: ``model.predict(row)`` /
  ``model.predict_many(X[:150])`` against ``rf.predict(X[:1])`` / ``rf.predict(X[:150])``
  (scikit-learn both with n_jobs=-1 and n_jobs=1, its fastest setting for small batches);
* ``Optimizer.suggest`` latency from Python, the history given as a list of dicts (converted at
  each call) and as an ``inframind.History`` (converted once);
* the serialized size of each model.

Prints a table; ``--json OUT`` also writes the numbers. Needs numpy and scikit-learn next to the
inframind wheel (build it with ``maturin build --release``: a debug build is not a measurement).

    python benches/python/bench.py --json bench-python.json
    python benches/python/bench.py --quick        # small sizes: proves the script works
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import statistics
import sys
import time
from typing import Any, Callable, Dict, List

import numpy as np

import inframind as im


def per_call_us(fn: Callable[[], Any], min_time_s: float, repeats: int) -> Dict[str, float]:
    """Median and best of `repeats` timings of a loop of `fn` calls lasting about `min_time_s`."""
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time_s / repeats or n >= 1 << 20:
            break
        n *= 2
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) / n * 1e6)
    return {"median_us": statistics.median(samples), "best_us": min(samples), "calls": n * repeats}


def once_s(fn: Callable[[], Any], repeats: int) -> Dict[str, float]:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(samples), "best_s": min(samples)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5000, help="demo runs to build rows from (default 5000)")
    ap.add_argument("--history", type=int, default=300, help="runs of history given to suggest (default 300)")
    ap.add_argument("--tool", default="cmake", help="demo pipeline (cmake, bazel, gradle, npm, cargo)")
    ap.add_argument("--trees", type=int, default=100, help="trees of both forests (default 100)")
    ap.add_argument("--fit-repeats", type=int, default=3)
    ap.add_argument("--time", type=float, default=1.0, help="seconds per latency measurement")
    ap.add_argument("--quick", action="store_true", help="small sizes, short timings: checks the script runs")
    ap.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.history, args.trees, args.fit_repeats, args.time = 400, 120, 20, 1, 0.05

    try:
        import sklearn
        from sklearn.ensemble import RandomForestRegressor
    except ImportError:
        print("scikit-learn is needed: pip install scikit-learn", file=sys.stderr)
        return 2

    runs = im.demo_history(args.tool, args.runs, 1)
    X, y = im.training_data(runs)
    X150, X1, row = X[:150], X[:1], X[0]
    results: List[Dict[str, Any]] = []

    def add(name: str, ours: Dict[str, float], theirs: Dict[str, float] | None, unit: str) -> None:
        key = "median_us" if unit == "us" else "median_s"
        entry: Dict[str, Any] = {"name": name, "unit": unit, "inframind": ours, "sklearn": theirs}
        if theirs is not None:
            entry["speedup"] = theirs[key] / ours[key]
        results.append(entry)

    # fit
    model_holder: Dict[str, Any] = {}
    ours_fit = once_s(lambda: model_holder.__setitem__("m", im.DurationModel.fit(X, y, n_trees=args.trees, seed=0)), args.fit_repeats)
    rf = RandomForestRegressor(n_estimators=args.trees, n_jobs=-1, random_state=0)
    sk_fit = once_s(lambda: rf.fit(X, y), args.fit_repeats)
    add(f"fit {len(y)} rows x {X.shape[1]} features", ours_fit, sk_fit, "s")
    train = once_s(lambda: im.DurationModel.train(runs, n_trees=args.trees, seed=0), args.fit_repeats)
    add(f"train from {len(runs)} run dicts (features included)", train, None, "s")
    model = model_holder["m"]

    # predict
    ours_1 = per_call_us(lambda: model.predict(row), args.time, 5)
    ours_1m = per_call_us(lambda: model.predict_many(X1), args.time, 5)
    ours_150 = per_call_us(lambda: model.predict_many(X150), args.time, 5)
    sk_1 = per_call_us(lambda: rf.predict(X1), args.time, 5)
    sk_150 = per_call_us(lambda: rf.predict(X150), args.time, 5)
    rf.set_params(n_jobs=1)
    sk_1_serial = per_call_us(lambda: rf.predict(X1), args.time, 5)
    sk_150_serial = per_call_us(lambda: rf.predict(X150), args.time, 5)
    add("predict 1 row: predict(row) vs rf.predict(X[:1]) n_jobs=-1", ours_1, sk_1, "us")
    add("predict 1 row: predict(row) vs rf.predict(X[:1]) n_jobs=1", ours_1, sk_1_serial, "us")
    add("predict 1 row: predict_many(X[:1]) vs n_jobs=1", ours_1m, sk_1_serial, "us")
    add("predict 150 rows: predict_many vs n_jobs=-1", ours_150, sk_150, "us")
    add("predict 150 rows: predict_many vs n_jobs=1", ours_150, sk_150_serial, "us")

    # suggest
    hist = im.demo_history(args.tool, args.history, 2)
    hmodel = im.DurationModel.train(hist, n_trees=args.trees, seed=0)
    opt = im.Optimizer(hmodel)
    ctx = {"tool": args.tool, "num_steps": 5}
    probe = opt.suggest(hist, ctx, seed=7)
    sug = per_call_us(lambda: opt.suggest(hist, ctx, seed=7), args.time, 5)
    add(f"Optimizer.suggest, history as {len(hist)} dicts ({probe.candidates_considered} candidates)", sug, None, "us")
    shared = im.History(hist)
    sug_h = per_call_us(lambda: opt.suggest(shared, ctx, seed=7), args.time, 5)
    add(f"Optimizer.suggest, history as im.History of {len(hist)} runs", sug_h, None, "us")
    cold = per_call_us(lambda: im.Optimizer().suggest([], ctx), args.time, 5)
    add("Optimizer.suggest cold start (no model, no history)", cold, None, "us")

    sizes = {"inframind_bytes": len(model.to_bytes()), "sklearn_pickle_bytes": len(pickle.dumps(rf))}

    print(f"inframind {im.__version__} vs scikit-learn {sklearn.__version__}; {args.trees} trees; "
          f"{len(y)} rows from {len(runs)} {args.tool} demo runs; {os.cpu_count()} CPUs; Python {platform.python_version()}")
    print(f"{'measurement':<72} {'inframind':>12} {'sklearn':>12} {'speedup':>9}")
    for r in results:
        key = "median_us" if r["unit"] == "us" else "median_s"
        unit = " us" if r["unit"] == "us" else " s"
        ours = f"{r['inframind'][key]:.{1 if r['unit'] == 'us' else 3}f}{unit}"
        theirs = "" if r["sklearn"] is None else f"{r['sklearn'][key]:.{1 if r['unit'] == 'us' else 3}f}{unit}"
        speed = "" if "speedup" not in r else f"{r['speedup']:.1f}x"
        print(f"{r['name']:<72} {ours:>12} {theirs:>12} {speed:>9}")
    print(f"model size: inframind {sizes['inframind_bytes'] / 1e6:.2f} MB, sklearn pickle {sizes['sklearn_pickle_bytes'] / 1e6:.2f} MB")
    if args.quick:
        print("(--quick: small sizes and short timings; not a measurement)")

    if args.json:
        out = {
            "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
            "machine": {"platform": platform.platform(), "processor": platform.processor(),
                        "cpus": os.cpu_count(), "python": platform.python_version()},
            "versions": {"inframind": im.__version__, "sklearn": sklearn.__version__, "numpy": np.__version__},
            "params": vars(args),
            "rows": int(len(y)),
            "results": results,
            "sizes": sizes,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
