"""ModelStore: versions, latest, listing, pruning, corrupt versions skipped with a warning."""

import warnings

import pytest

import inframind as im


def test_versions_round_trip(model, tmp_path):
    store = im.ModelStore(tmp_path / "models")
    assert store.path == tmp_path / "models" and store.pipelines() == []
    assert store.save("team/app", model) == 1
    assert store.save("team/app", model) == 2
    assert store.save("other", model) == 1
    assert store.pipelines() == ["other", "team/app"]
    latest = store.load_latest("team/app")
    assert latest.version == 2 and latest.model_id == model.model_id
    assert store.load("team/app", 1).version == 1
    listed = store.list("team/app")
    assert [v["version"] for v in listed] == [1, 2]
    assert listed[0]["metadata"]["model_id"] == model.model_id and listed[0]["error"] is None
    assert listed[0]["bytes"] > 1000
    assert store.prune("team/app", 1) == [1]
    assert [v["version"] for v in store.list("team/app")] == [2]


def test_corrupt_latest_is_skipped_with_a_warning(model, tmp_path):
    store = im.ModelStore(tmp_path)
    store.save("p", model)
    store.save("p", model)
    path = store.list("p")[1]["path"]
    with open(path, "r+b") as f:
        f.truncate(100)
    with pytest.warns(RuntimeWarning, match="skipped version 2"):
        m = store.load_latest("p")
    assert m.version == 1
    listed = store.list("p")
    assert listed[1]["metadata"] is None and "cannot decode" in listed[1]["error"]
    with open(store.list("p")[0]["path"], "r+b") as f:
        f.truncate(10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(im.StoreError, match="no version decodes"):
            store.load_latest("p")
