"""scikit-learn's side of compare.sh: same CSVs, same metrics, one JSON object on stdout.

RandomForestRegressor(n_estimators=100, n_jobs=-1, random_state=0), as users run it.
"""
import json
import pickle
import statistics
import sys
import time

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import mean_absolute_error, r2_score


def load(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return data[:, :-1], data[:, -1]


def median_us(reps, fn):
    times = []
    for i in range(reps):
        t = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t) * 1e6)
    return statistics.median(times)


def main():
    xtr, ytr = load(sys.argv[1])
    xte, yte = load(sys.argv[2])
    model = RandomForestRegressor(n_estimators=100, n_jobs=-1, random_state=0)
    t = time.perf_counter()
    model.fit(xtr, ytr)
    fit_s = time.perf_counter() - t
    pred = model.predict(xte)
    n = len(yte)
    k = min(150, n)
    p1 = median_us(201, lambda i: model.predict(xte[i % n : i % n + 1]))
    p150 = median_us(31, lambda i: model.predict(xte[(i * 37) % (n - k + 1) :][:k]))
    print(json.dumps({
        "fit_s": fit_s,
        "r2": float(r2_score(yte, pred)),
        "mae": float(mean_absolute_error(yte, pred)),
        "predict_1_us": p1,
        "predict_150_us": p150,
        "model_bytes": len(pickle.dumps(model)),
        "n_train": int(len(ytr)),
        "n_test": int(n),
    }))


if __name__ == "__main__":
    main()
