"""Errors: one base class, a subclass per family, the field named, OSErrors for I/O, and no
Rust panic reaching Python as anything but an InframindError."""

import copy
import os
import shutil
import subprocess
import sys

import pytest

import inframind as im


def test_hierarchy():
    for cls in (im.InvalidInputError, im.ModelError, im.PolicyError, im.StoreError, im.CollectorError,
                im.NotEnoughDataError, im.NoSafeConfigError):
        assert issubclass(cls, im.InframindError) and issubclass(cls, Exception)
        assert cls.__module__ == "inframind"
    assert issubclass(im.InvalidInputError, ValueError)
    assert not issubclass(im.ModelError, ValueError)
    # Finer kinds of bad input: `except InvalidInputError` still catches them.
    assert issubclass(im.NotEnoughDataError, im.InvalidInputError)
    assert issubclass(im.NoSafeConfigError, im.InvalidInputError)


def test_bad_history_field_is_named(history):
    bad = copy.deepcopy(history[:30])
    bad[3]["config"]["concurrency"] = 0
    with pytest.raises(im.InvalidInputError) as e:
        im.DurationModel.train(bad)
    assert e.value.field == "history[3].config.concurrency"
    assert "history[3].config.concurrency = 0" in str(e.value)
    assert isinstance(e.value, ValueError)


def test_wrong_type_and_missing_field_are_named(history):
    bad = copy.deepcopy(history[:30])
    bad[2]["config"]["memory_bytes"] = "lots"
    with pytest.raises(im.InvalidInputError) as e:
        im.DurationModel.train(bad)
    assert e.value.field == "history[2].config.memory_bytes"
    del bad[2]["config"]["memory_bytes"]
    del bad[5]["duration_s"]
    with pytest.raises(im.InvalidInputError, match="missing field `memory_bytes`") as e:
        im.DurationModel.train(bad)
    assert e.value.field == "history[2].config.memory_bytes"
    with pytest.raises(im.InvalidInputError, match="exploded"):
        im.validate_run({**history[0], "status": "exploded"})


def test_nan_step_duration(history):
    run = copy.deepcopy(history[0])
    run["steps"][2]["duration_s"] = float("nan")
    with pytest.raises(im.InvalidInputError) as e:
        im.validate_run(run)
    assert e.value.field == "steps[2].duration_s"
    assert str(e.value) == "invalid steps[2].duration_s = NaN: must be a finite number of seconds, 0 or more"


def test_context_field_is_named(model, history):
    with pytest.raises(im.InvalidInputError) as e:
        im.Optimizer(model).suggest(history, {"tool": "cmake", "num_steps": 0})
    assert e.value.field == "context.num_steps"
    with pytest.raises(im.InvalidInputError) as e:
        im.Optimizer(model).suggest(history, {"tool": "cmake", "num_steps": -2})
    assert e.value.field == "context.num_steps"
    with pytest.raises(im.InvalidInputError) as e:
        im.validate_context({"tool": "x", "cache_hit_ratio": 2})
    assert e.value.field == "context.cache_hit_ratio"


def test_hyperparameters(history):
    with pytest.raises(im.InvalidInputError, match=r"n_trees = 0: must be between 1 and 10000") as e:
        im.DurationModel.train(history, n_trees=0)
    assert e.value.field == "n_trees"
    with pytest.raises(im.InvalidInputError, match="n_trees = -3") as e:
        im.DurationModel.train(history, n_trees=-3)
    assert e.value.field == "n_trees"
    with pytest.raises(im.InvalidInputError, match="automatic leaf size needs out-of-bag"):
        im.DurationModel.train(history, bootstrap=False)
    with pytest.raises(im.InvalidInputError, match="max_features"):
        im.DurationModel.train(history, max_features=0.0)


def test_not_enough_data(history):
    with pytest.raises(im.InvalidInputError, match="at least 2 successful runs"):
        im.DurationModel.train(history[:1])
    with pytest.raises(im.InvalidInputError):
        im.DurationModel.train([])


def test_model_bytes(model, tmp_path):
    data = model.to_bytes()
    with pytest.raises(im.ModelError, match="bad magic"):
        im.DurationModel.from_bytes(b"nonsense")
    with pytest.raises(im.ModelError, match="checksum"):
        im.DurationModel.from_bytes(data[:-20] + data[-8:])
    for cut in (0, 3, 17, len(data) // 2, len(data) - 1):
        with pytest.raises(im.ModelError):
            im.DurationModel.from_bytes(data[:cut])
    bad = tmp_path / "bad.imdm"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(im.ModelError, match=str(bad)):
        im.DurationModel.load(bad)


def test_io_errors_are_os_errors(model, tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        im.DurationModel.load(tmp_path / "missing.imdm")
    assert e.value.filename == str(tmp_path / "missing.imdm")
    assert e.value.errno == 2
    with pytest.raises(FileNotFoundError):
        im.PolicySet.from_file(tmp_path / "none.yaml")
    with pytest.raises(FileNotFoundError):
        im.ModelStore(tmp_path / "s").load("p", 1)
    with pytest.raises(NotADirectoryError):
        f = tmp_path / "file"
        f.write_text("x")
        im.ModelStore(f / "sub")


PERMISSION_PROBE = """
import sys, numpy as np, inframind as im
m = im.DurationModel.fit(np.arange(20.0).reshape(10, 2), np.arange(10.0), n_trees=2)
try:
    m.save(sys.argv[1])
except PermissionError as e:
    print("PermissionError", e.errno, e.filename)
"""


def test_permission_error(model, tmp_path):
    """Saving into a folder the process may not write is a PermissionError. Root ignores file
    modes, so as root the probe runs in a child without the capabilities that let it
    (`setpriv` from util-linux drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    target = str(ro / "m.imdm")
    if os.geteuid() != 0:
        with pytest.raises(PermissionError):
            model.save(target)
        return
    setpriv = shutil.which("setpriv")
    assert setpriv, "as root this test needs setpriv (Debian package util-linux)"
    out = subprocess.run(
        [setpriv, "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c", PERMISSION_PROBE, target],
        capture_output=True, text=True, timeout=120,
    )
    assert out.stdout.startswith(f"PermissionError 13 {tmp_path}"), (out.stdout, out.stderr)


def test_store_errors(tmp_path):
    store = im.ModelStore(tmp_path)
    with pytest.raises(im.StoreError, match="no model stored"):
        store.load_latest("nothing/here")
    with pytest.raises(im.InvalidInputError) as e:
        store.load_latest("")
    assert e.value.field == "pipeline"


def test_policy_and_payload_errors():
    with pytest.raises(im.PolicyError) as e:
        im.PolicySet.from_yaml("- name: a\n  condition: {labels: {x: y}}\n  action: {tool: t}\n  bogus: 1\n")
    assert "bogus" in str(e.value)
    with pytest.raises(im.PolicyError, match="share this name"):
        im.PolicySet.from_dict([
            {"name": "a", "condition": {"labels": {"x": "y"}}, "action": {"tool": "t"}},
            {"name": "a", "condition": {"labels": {"x": "z"}}, "action": {"tool": "t"}},
        ])
    ps = im.PolicySet.from_dict([{"name": "a", "condition": {"labels": {"x": "y"}}, "action": {"tool": "t"}}])
    with pytest.raises(im.InvalidInputError) as e:
        ps.evaluate({"version": "3", "status": "firing", "alerts": []})
    assert e.value.field == "version"
    with pytest.raises(im.InvalidInputError, match="now"):
        ps.evaluate({"version": "4", "status": "firing", "alerts": []}, now="yesterday")


def test_wrong_argument_types(model):
    with pytest.raises(im.InvalidInputError, match="predict takes a run dict"):
        model.predict(42)
    with pytest.raises(im.InvalidInputError):
        model.predict_many("not an array")
    with pytest.raises(im.InvalidInputError):
        im.features("not a run")


def test_panic_becomes_inframind_error():
    with pytest.raises(im.InframindError, match="internal error .*boom") as e:
        im._inframind._debug_panic("boom")
    assert type(e.value) is im.InframindError
    # It is an ordinary Exception, not pyo3's PanicException (a BaseException).
    assert isinstance(e.value, Exception)
    # And the interpreter keeps working afterwards.
    assert im.tool_env("make", {"concurrency": 2, "cpu_cores": 1, "memory_bytes": 1 << 30})["MAKEFLAGS"] == "-j2"
