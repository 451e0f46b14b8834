//! The versioned model store: versions, pruning, corruption, concurrent writers.

use inframind_core::demo::demo_history;
use inframind_core::forest::RandomForestParams;
use inframind_core::model::DurationModel;
use inframind_core::store::ModelStore;

fn model(seed: u64) -> DurationModel {
    DurationModel::train(
        &demo_history("npm", 60, seed),
        RandomForestParams::new().n_trees(8).seed(seed),
    )
    .expect("train")
}

#[test]
fn corrupt_newest_version_is_reported_and_older_ones_still_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ModelStore::open(dir.path()).expect("open");
    let m1 = model(1);
    store.save("team/app", &m1).expect("v1");
    let v2 = store.save("team/app", &model(2)).expect("v2");
    let path = store
        .pipeline_dir("team/app")
        .expect("dir")
        .join(format!("v{v2:06}.imdm"));
    let bytes = std::fs::read(&path).expect("read");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("truncate");

    let err = store.load("team/app", v2).unwrap_err().to_string();
    assert!(
        err.contains("v000002.imdm") && err.contains("checksum"),
        "{err}"
    );
    let loaded = store.load_latest("team/app").expect("falls back");
    assert_eq!(loaded.model.metadata().version, Some(1));
    assert_eq!(loaded.model.metadata().model_id, m1.metadata().model_id);
    assert_eq!(loaded.skipped.len(), 1);
    let list = store.list("team/app").expect("list");
    assert!(list[0].metadata.is_ok() && list[1].metadata.is_err());
}

#[test]
fn metadata_survives_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ModelStore::open(dir.path()).expect("open");
    let m = model(3);
    store.save("p", &m).expect("save");
    let listed = store.list("p").expect("list");
    let meta = listed[0].metadata.as_ref().expect("decodes");
    assert_eq!(meta.n_samples, m.metadata().n_samples);
    assert_eq!(meta.schema.fingerprint, m.metadata().schema.fingerprint);
    assert_eq!(meta.oob_score, m.oob_score());
    assert_eq!(store.pipelines().expect("pipelines"), vec!["p".to_string()]);
}

#[test]
fn concurrent_writers_never_overwrite_each_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ModelStore::open(dir.path()).expect("open");
    let m = model(4);
    let versions: Vec<u32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| store.save("race", &m).expect("save")))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("join"))
            .collect()
    });
    let mut sorted = versions.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 8, "{versions:?}");
    assert_eq!(store.list("race").expect("list").len(), 8);
    assert_eq!(store.prune("race", 3).expect("prune").len(), 5);
    assert_eq!(
        store
            .load_latest("race")
            .expect("latest")
            .model
            .metadata()
            .version,
        Some(8)
    );
}

#[test]
fn missing_pipeline_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ModelStore::open(dir.path()).expect("open");
    let msg = store.load_latest("nope").unwrap_err().to_string();
    assert!(
        msg.contains("nope") && msg.contains("no model stored"),
        "{msg}"
    );
    assert!(store.save("", &model(5)).is_err());
}
