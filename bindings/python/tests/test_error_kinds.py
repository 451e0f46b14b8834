"""The core's error kinds as Python classes: `inframind.exceptions.KIND_CLASSES` against the
hosts' table (inframind-core/tests/data/error_kinds.tsv), and real operations raising the class
of their kind with `kind` and `field` set."""

import builtins
import os
import pickle
import subprocess
import sys

import pytest

import inframind as im
from inframind.exceptions import KIND_CLASSES

TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                     "inframind-core", "tests", "data", "error_kinds.tsv")


def table_rows():
    """The table's rows as dicts by column name (comments and blank lines skipped)."""
    with open(TABLE, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#")]
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def python_class(name):
    """A class named in the table's `python` column: inframind's or a builtin."""
    return getattr(im, name, None) or getattr(builtins, name)


def test_every_kind_of_the_table_maps_to_its_class():
    rows = table_rows()
    assert rows and all(set(r) >= {"kind", "python"} for r in rows)
    for row in rows:
        cls = KIND_CLASSES.get(row["kind"])
        assert cls is not None, f"kind {row['kind']!r} of the table is missing from KIND_CLASSES"
        expected = python_class(row["python"])
        assert issubclass(cls, expected), (row["kind"], cls, expected)
    assert [r["kind"] for r in rows] == list(KIND_CLASSES), "KIND_CLASSES lists exactly the table's kinds, in order"


def test_the_classes_name_their_kind():
    for kind, cls in KIND_CLASSES.items():
        if issubclass(cls, im.InframindError):
            assert cls.kind == kind, cls
            assert getattr(im, cls.__name__) is cls, "inframind re-exports every class"
    assert im.InframindError.kind is None and im.InframindError.field is None
    e = im.InvalidInputError("bad", field="x")
    assert (str(e), e.field, e.kind) == ("bad", "x", "invalid_input")


def test_not_enough_data(history):
    with pytest.raises(im.NotEnoughDataError, match="at least 2 successful runs") as e:
        im.DurationModel.train(history[:1])
    assert e.value.kind == "not_enough_data" and e.value.field is None
    # Still an InvalidInputError (and a ValueError) for code written before the finer classes.
    assert isinstance(e.value, im.InvalidInputError) and isinstance(e.value, ValueError)


def test_no_safe_config(model, history):
    ctx = {"tool": "cmake", "num_steps": 5, "capacity": {"memory_bytes": 1 << 30}}
    with pytest.raises(im.NoSafeConfigError, match="no safe configuration") as e:
        im.Optimizer(model).suggest(history, ctx)
    assert e.value.kind == "no_safe_config" and isinstance(e.value, im.InvalidInputError)


def test_empty_store(tmp_path):
    with pytest.raises(im.StoreError, match="no model stored") as e:
        im.ModelStore(tmp_path).load_latest("team/app")
    assert e.value.kind == "not_stored"


def test_corrupt_bytes(model, tmp_path):
    with pytest.raises(im.ModelError) as e:
        im.DurationModel.from_bytes(model.to_bytes()[:-1])
    assert e.value.kind == "model"
    # A corrupt version loaded from a store is a model error too: the bytes are at fault.
    store = im.ModelStore(tmp_path)
    store.save("p", model)
    with open(store.list("p")[0]["path"], "r+b") as f:
        f.truncate(10)
    with pytest.raises(im.ModelError):
        store.load("p", 1)


def test_invalid_input_and_policy_kinds(history):
    with pytest.raises(im.InvalidInputError) as e:
        im.DurationModel.train(history, n_trees=0)
    assert (type(e.value), e.value.kind, e.value.field) == (im.InvalidInputError, "invalid_input", "n_trees")
    with pytest.raises(im.PolicyError) as e:
        im.PolicySet.from_dict([{"name": "a", "condition": {"labels": {"x": "y"}}, "action": {"tool": "t"}},
                                {"name": "a", "condition": {"labels": {"x": "z"}}, "action": {"tool": "t"}}])
    assert e.value.kind == "policy"


def test_io_errors_carry_their_kind(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        im.DurationModel.load(tmp_path / "missing.imdm")
    assert (e.value.kind, e.value.field, e.value.errno) == ("not_found", None, 2)


@pytest.mark.skipif(not hasattr(im, "ProcessTreeSampler"), reason="the collectors are Linux only")
def test_dead_pid_is_a_process_lookup_error():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    with pytest.raises(ProcessLookupError, match=f"no process with pid {p.pid}") as e:
        im.ProcessTreeSampler(p.pid)
    assert (e.value.kind, e.value.field) == ("not_found", "pid")


@pytest.mark.skipif(not hasattr(im, "parse_ccache_stats"), reason="the collectors are Linux only")
def test_collector_kind():
    with pytest.raises(im.CollectorError) as e:
        im.parse_ccache_stats("Cacheable calls: 2 / 2 (100.0%)\n")
    assert e.value.kind == "collector"


def test_exceptions_pickle():
    e = pickle.loads(pickle.dumps(im.InvalidInputError("bad", field="x")))
    assert type(e) is im.InvalidInputError and (str(e), e.field) == ("bad", "x")
