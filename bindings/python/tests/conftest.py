"""Shared fixtures. The suite runs against the installed wheel (scripts/suites/50-python.sh),
never against the source tree: `import inframind` must resolve to site-packages."""

import os
import sys

import pytest

import inframind as im

# The suite must test the installed wheel, not a source checkout on sys.path.
assert "site-packages" in im.__file__, f"inframind imported from {im.__file__}, not from an installed wheel"

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples")
if EXAMPLES not in sys.path:
    sys.path.insert(0, EXAMPLES)


@pytest.fixture(scope="session")
def history():
    """300 runs of the demo cmake pipeline (oldest first), as dicts."""
    return im.demo_history("cmake", 300, 1)


@pytest.fixture(scope="session")
def model(history):
    return im.DurationModel.train(history, n_trees=40, seed=3)
