"""Writes the comparison datasets that do not come from InfraMind's own generator.

- friedman1: scikit-learn's make_friedman1 (10 features, 5 informative, noise 1.0), the
  classic regression benchmark; 5,000 training rows, 2,000 test rows.
- diabetes: scikit-learn's bundled diabetes data (442 real patients, 10 features), split 75/25.

Neither was used to tune InfraMind. Usage: python datasets.py OUT_DIR
"""
import os
import sys

import numpy as np
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.model_selection import train_test_split


def write(path, x, y):
    header = ",".join([f"x{i}" for i in range(x.shape[1])] + ["y"])
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header=header, comments="", fmt="%.10g")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    x, y = make_friedman1(n_samples=7000, n_features=10, noise=1.0, random_state=11)
    write(f"{out}/friedman1_train.csv", x[:5000], y[:5000])
    write(f"{out}/friedman1_test.csv", x[5000:], y[5000:])
    d = load_diabetes()
    xtr, xte, ytr, yte = train_test_split(d.data, d.target, test_size=0.25, random_state=0)
    write(f"{out}/diabetes_train.csv", xtr, ytr)
    write(f"{out}/diabetes_test.csv", xte, yte)


if __name__ == "__main__":
    main()
