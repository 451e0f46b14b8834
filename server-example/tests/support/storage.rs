//! The storage test suite, run against SQLite (tests/db_sqlite.rs) and a real PostgreSQL
//! (tests/db_postgres.rs): the same calls, the same expectations.

use inframind_core::telemetry::{BuildConfig, BuildStep, RunStatus};
use server_example::db::{
    CompleteResult, Completion, DecisionRow, NewRun, PutMode, StartResult, TrainingRow,
};
use server_example::{AppError, AppState};

fn new_run(id: &str, pipeline: &str, canonical: &str) -> NewRun {
    NewRun {
        run_id: id.into(),
        pipeline: pipeline.into(),
        tool: "cmake".into(),
        config: Some(BuildConfig {
            concurrency: 4,
            cpu_cores: 4.0,
            memory_bytes: 8 << 30,
        }),
        labels: [("branch".to_string(), "main".to_string())].into(),
        canonical: canonical.into(),
        started_at: 1_700_000_000.0,
    }
}

fn completion(id: &str, status: RunStatus, duration: f64, canonical: &str) -> Completion {
    Completion {
        run_id: id.into(),
        final_status: status,
        duration_s: duration,
        canonical: canonical.into(),
        response: format!(r#"{{"run_id":"{id}","canonical":"{canonical}"}}"#),
    }
}

/// Start, steps, completion, and the run read back exactly.
pub async fn run_round_trip(s: &AppState) {
    let db = &s.db;
    assert_eq!(
        db.start_run(new_run("r1", "p/rt", "a")).await.unwrap(),
        StartResult::Created
    );
    let mut step = BuildStep::new("compile", 40.0);
    step.max_rss_bytes = Some(3 << 30);
    step.cache_hits = Some(7);
    assert_eq!(db.add_step("r1".into(), step.clone()).await.unwrap(), 0);
    assert_eq!(
        db.add_step("r1".into(), BuildStep::new("test", 20.0))
            .await
            .unwrap(),
        1
    );
    let done = db
        .complete_run(completion("r1", RunStatus::Success, 70.0, "c"))
        .await
        .unwrap();
    assert!(
        matches!(done, CompleteResult::Done { completed: 1, .. }),
        "{done:?}"
    );
    let got = db.run("r1").await.unwrap().unwrap();
    assert_eq!(got.run.status, RunStatus::Success);
    assert_eq!(got.run.duration_s, 70.0);
    assert_eq!(got.run.config.memory_bytes, 8 << 30);
    assert_eq!(got.run.labels["branch"], "main");
    assert_eq!(got.run.steps, vec![step, BuildStep::new("test", 20.0)]);
    assert_eq!(got.seq, Some(1));
    let hist = db.history("p/rt", 0, 1, 10).await.unwrap();
    assert_eq!(hist.len(), 1);
    assert_eq!(hist[0].1.steps.len(), 2);
}

/// Repeated starts and completions: same body is a no-op, another body a conflict.
pub async fn idempotency(s: &AppState) {
    let db = &s.db;
    db.start_run(new_run("i1", "p/idem", "a")).await.unwrap();
    assert_eq!(
        db.start_run(new_run("i1", "p/idem", "a")).await.unwrap(),
        StartResult::Same
    );
    assert_eq!(
        db.start_run(new_run("i1", "p/idem", "b")).await.unwrap(),
        StartResult::Conflict
    );
    let first = db
        .complete_run(completion("i1", RunStatus::Failure, 10.0, "x"))
        .await
        .unwrap();
    let again = db
        .complete_run(completion("i1", RunStatus::Failure, 10.0, "x"))
        .await
        .unwrap();
    let CompleteResult::Done { response, .. } = first else {
        panic!("{first:?}")
    };
    assert_eq!(again, CompleteResult::Same(response));
    let other = db
        .complete_run(completion("i1", RunStatus::Success, 10.0, "y"))
        .await;
    assert!(matches!(other, Err(AppError::Conflict(_))), "{other:?}");
    assert_eq!(
        db.pipeline_state("p/idem")
            .await
            .unwrap()
            .unwrap()
            .completed,
        1,
        "a repeated completion must not count twice"
    );
}

/// Unknown runs are 404, steps after completion 409, a step longer than its run 422 (and the
/// run stays running).
pub async fn errors(s: &AppState) {
    let db = &s.db;
    let r = db.add_step("nope".into(), BuildStep::new("x", 1.0)).await;
    assert!(matches!(r, Err(AppError::NotFound(_))), "{r:?}");
    let r = db
        .complete_run(completion("nope", RunStatus::Success, 1.0, "c"))
        .await;
    assert!(matches!(r, Err(AppError::NotFound(_))), "{r:?}");
    db.start_run(new_run("e1", "p/err", "a")).await.unwrap();
    db.add_step("e1".into(), BuildStep::new("long", 100.0))
        .await
        .unwrap();
    let r = db
        .complete_run(completion("e1", RunStatus::Success, 50.0, "c"))
        .await;
    match r {
        Err(AppError::InvalidInput { field, .. }) => {
            assert_eq!(field.as_deref(), Some("steps[0].duration_s"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        db.run("e1").await.unwrap().unwrap().run.status,
        RunStatus::Running
    );
    db.complete_run(completion("e1", RunStatus::Success, 120.0, "c"))
        .await
        .unwrap();
    let r = db.add_step("e1".into(), BuildStep::new("late", 1.0)).await;
    assert!(matches!(r, Err(AppError::Conflict(_))), "{r:?}");
}

/// Concurrent steps get distinct, gapless indices per run, each stored at the index it was
/// told, and none is lost; steps for an unknown or a completed run in the same burst (so in
/// the same write batch) are refused without failing their neighbours.
pub async fn concurrent_steps(s: &AppState) {
    let db = &s.db;
    let runs = ["c1", "c2", "c3"];
    for id in runs {
        db.start_run(new_run(id, "p/conc", "a")).await.unwrap();
    }
    db.start_run(new_run("c-done", "p/conc", "a"))
        .await
        .unwrap();
    db.complete_run(completion("c-done", RunStatus::Success, 5.0, "c"))
        .await
        .unwrap();
    let before = db.count_steps().await.unwrap();
    let mut handles = Vec::new();
    for i in 0..330 {
        let db = db.clone();
        let run = match i % 11 {
            9 => "c-missing",
            10 => "c-done",
            k => runs[k % 3],
        };
        handles.push(tokio::spawn(async move {
            let name = format!("s{i}");
            let r = db.add_step(run.into(), BuildStep::new(&name, 1.0)).await;
            (run, name, r)
        }));
    }
    let mut told: std::collections::BTreeMap<&str, Vec<(i64, String)>> = Default::default();
    for h in handles {
        let (run, name, r) = h.await.unwrap();
        match (run, r) {
            ("c-missing", r) => assert!(matches!(r, Err(AppError::NotFound(_))), "{r:?}"),
            ("c-done", r) => assert!(matches!(r, Err(AppError::Conflict(_))), "{r:?}"),
            (run, r) => told.entry(run).or_default().push((r.unwrap(), name)),
        }
    }
    let mut stored_total = 0;
    for id in runs {
        let mut got = told.remove(id).unwrap();
        got.sort_unstable();
        let indices: Vec<i64> = got.iter().map(|(i, _)| *i).collect();
        assert_eq!(
            indices,
            (0..got.len() as i64).collect::<Vec<_>>(),
            "run {id}"
        );
        let stored = db.run(id).await.unwrap().unwrap().run.steps;
        let names: Vec<&str> = stored.iter().map(|s| s.name.as_str()).collect();
        let told_names: Vec<&str> = got.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(
            names, told_names,
            "run {id}: each step at the index it was told"
        );
        stored_total += stored.len();
    }
    assert_eq!(stored_total, 270);
    assert_eq!(db.count_steps().await.unwrap() - before, 270);
    assert!(db
        .run("c-done")
        .await
        .unwrap()
        .unwrap()
        .run
        .steps
        .is_empty());
}

/// History comes back oldest first, windowed and incremental by completion order.
pub async fn history_order(s: &AppState) {
    let db = &s.db;
    for i in 0..12 {
        let id = format!("h{i}");
        db.start_run(new_run(&id, "p/hist", "a")).await.unwrap();
        db.complete_run(completion(
            &id,
            RunStatus::Success,
            10.0 + f64::from(i),
            "c",
        ))
        .await
        .unwrap();
    }
    // A run without a config counts in the order but is not history.
    let mut bare = new_run("h-bare", "p/hist", "a");
    bare.config = None;
    db.start_run(bare).await.unwrap();
    db.complete_run(completion("h-bare", RunStatus::Success, 5.0, "c"))
        .await
        .unwrap();
    let st = db.pipeline_state("p/hist").await.unwrap().unwrap();
    assert_eq!(st.completed, 13);
    let all = db.history("p/hist", 0, st.completed, 100).await.unwrap();
    assert_eq!(all.len(), 12);
    let ids: Vec<_> = all.iter().map(|(_, r)| r.run_id.clone()).collect();
    assert_eq!(ids.first().map(String::as_str), Some("h0"));
    assert_eq!(ids.last().map(String::as_str), Some("h11"));
    let newest = db.history("p/hist", 0, st.completed, 5).await.unwrap();
    assert_eq!(newest.len(), 5);
    assert_eq!(newest[0].1.run_id, "h7");
    let tail = db.history("p/hist", 10, st.completed, 100).await.unwrap();
    assert_eq!(
        tail.iter()
            .map(|(_, r)| r.run_id.as_str())
            .collect::<Vec<_>>(),
        vec!["h10", "h11"]
    );
}

/// Policies, decisions, model versions and the training log.
pub async fn registry(s: &AppState) {
    let db = &s.db;
    db.put_policy("a".into(), r#"{"name":"a"}"#.into(), PutMode::Create)
        .await
        .unwrap();
    let dup = db
        .put_policy("a".into(), r#"{"name":"a"}"#.into(), PutMode::Create)
        .await;
    assert!(matches!(dup, Err(AppError::Conflict(_))), "{dup:?}");
    db.put_policy("a".into(), r#"{"name":"a","v":2}"#.into(), PutMode::Upsert)
        .await
        .unwrap();
    assert_eq!(
        db.policies().await.unwrap(),
        vec![("a".to_string(), r#"{"name":"a","v":2}"#.to_string())]
    );
    db.delete_policy("a".into()).await.unwrap();
    assert!(matches!(
        db.delete_policy("a".into()).await,
        Err(AppError::NotFound(_))
    ));
    let row = |policy: &str| DecisionRow {
        at: "2024-05-01T10:00:00Z".into(),
        receiver: "inframind".into(),
        policy: policy.into(),
        fingerprint: "f".into(),
        alertname: "A".into(),
        outcome: "matched".into(),
        record: format!(r#"{{"policy":"{policy}"}}"#),
        execution: "{}".into(),
    };
    db.insert_decisions(vec![row("one"), row("two")])
        .await
        .unwrap();
    let d = db.decisions(10).await.unwrap();
    assert_eq!(d.len(), 2);
    assert!(d[0].1.contains("two"), "newest first: {d:?}");
    db.start_run(new_run("m1", "p/model", "a")).await.unwrap();
    db.record_model("p/model".into(), 3, 40).await.unwrap();
    db.record_model("p/model".into(), 2, 20).await.unwrap();
    let st = db.pipeline_state("p/model").await.unwrap().unwrap();
    assert_eq!((st.model_version, st.trained_at_completed), (3, 40));
    let t = TrainingRow {
        pipeline: "p/model".into(),
        replica: "r".into(),
        started_at: 1.0,
        finished_at: 2.0,
        model_version: Some(3),
        outcome: "trained".into(),
    };
    db.log_training(t.clone()).await.unwrap();
    assert_eq!(db.trainings("p/model").await.unwrap(), vec![t]);
}

/// The retrain policy's counters move with each completion, in its transaction: successes and
/// OOM kills of runs with a config count, the others do not; a surprise only moves forward.
pub async fn retrain_counts(s: &AppState) {
    let db = &s.db;
    let p = "p/counts";
    let outcomes = [
        ("k1", RunStatus::Success, true),
        ("k2", RunStatus::Failure, true),
        ("k3", RunStatus::OomKilled, true),
        ("k4", RunStatus::Success, false),
        ("k5", RunStatus::OomKilled, false),
        ("k6", RunStatus::Success, true),
    ];
    let mut last = None;
    for (id, status, config) in outcomes {
        let mut run = new_run(id, p, "a");
        if !config {
            run.config = None;
        }
        db.start_run(run).await.unwrap();
        last = Some(
            db.complete_run(completion(id, status, 10.0, "c"))
                .await
                .unwrap(),
        );
    }
    let Some(CompleteResult::Done {
        completed,
        state,
        run,
        ..
    }) = last
    else {
        panic!("{last:?}")
    };
    assert_eq!(completed, 6);
    assert_eq!(
        (state.completed, state.successes, state.surprise_at),
        (6, 2, 3)
    );
    assert_eq!(run.map(|r| r.run_id), Some("k6".to_string()));
    assert_eq!(db.pipeline_state(p).await.unwrap(), Some(state));
    db.mark_surprise(p.into(), 6).await.unwrap();
    db.mark_surprise(p.into(), 5).await.unwrap();
    let st = db.pipeline_state(p).await.unwrap().unwrap();
    assert_eq!(st.surprise_at, 6, "a surprise never moves back");
    assert!(st.progress().surprise);
    db.mark_trained(p.into(), 6).await.unwrap();
    let st = db.pipeline_state(p).await.unwrap().unwrap();
    assert!(!st.progress().surprise, "covered by the training at 6");
}

/// Every test of the suite, in order, on one app.
pub async fn all(s: &AppState) {
    run_round_trip(s).await;
    idempotency(s).await;
    errors(s).await;
    concurrent_steps(s).await;
    history_order(s).await;
    registry(s).await;
    retrain_counts(s).await;
    keyed_steps(s).await;
}

/// A step key is stored once per run (also when the same key arrives concurrently), and a
/// job's steps and completion are one unit: a repeat adds nothing and answers the stored
/// completion.
pub async fn keyed_steps(s: &AppState) {
    let db = &s.db;
    db.start_run(new_run("keyed-1", "p/keys", "a"))
        .await
        .unwrap();
    let before = db.count_steps().await.unwrap();
    let step = BuildStep::new("compile", 4.0);
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let db = db.clone();
        let step = step.clone();
        tasks.push(tokio::spawn(async move {
            db.add_keyed_step("keyed-1".into(), step, Some("c".into()))
                .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 0);
    }
    assert_eq!(db.count_steps().await.unwrap(), before + 1);
    let job: Vec<(BuildStep, Option<String>)> = (1..=5)
        .map(|n| (BuildStep::new(format!("s{n}"), 1.0), Some(format!("n{n}"))))
        .chain([(step.clone(), Some("c".to_string()))])
        .collect();
    let first = db
        .finish_run(
            job.clone(),
            completion("keyed-1", RunStatus::Success, 9.0, "c"),
        )
        .await
        .unwrap();
    assert!(matches!(first, CompleteResult::Done { .. }), "{first:?}");
    for _ in 0..2 {
        let again = db
            .finish_run(
                job.clone(),
                completion("keyed-1", RunStatus::Success, 9.0, "c"),
            )
            .await
            .unwrap();
        assert!(matches!(again, CompleteResult::Same(_)), "{again:?}");
    }
    let got = db.run("keyed-1").await.unwrap().unwrap();
    assert_eq!(got.run.steps.len(), 6);
    assert_eq!(db.count_steps().await.unwrap(), before + 6);
    assert_eq!(
        db.pipeline_state("p/keys")
            .await
            .unwrap()
            .unwrap()
            .completed,
        1
    );
    // A refused completion takes its steps back with it.
    db.start_run(new_run("keyed-2", "p/keys", "a"))
        .await
        .unwrap();
    let refused = db
        .finish_run(
            job,
            completion("keyed-2", RunStatus::Success, f64::NAN, "c"),
        )
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(db.count_steps().await.unwrap(), before + 6);
    assert_eq!(db.run("keyed-2").await.unwrap().unwrap().run.steps.len(), 0);
}
