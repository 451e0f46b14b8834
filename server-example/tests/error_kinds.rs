//! The server answers each core error by its kind exactly as the hosts' table says
//! (`inframind-core/tests/data/error_kinds.tsv`, columns `http_status` and `http_code`), with a
//! real error of every kind, through the same JSON error shape a client sees.

use std::path::Path;

use axum::response::IntoResponse;
use http_body_util::BodyExt;
use inframind_core::healing::parse_matchers;
use inframind_core::telemetry::{Capacity, RunContext};
use inframind_core::{
    rules, DurationModel, Error, ErrorKind, ModelStore, Optimizer, OptimizerParams,
    RandomForestParams,
};
use server_example::AppError;

const TABLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../inframind-core/tests/data/error_kinds.tsv"
);

/// One row of the table: (kind, http_status, http_code).
fn table() -> Vec<(ErrorKind, u16, String)> {
    let text = std::fs::read_to_string(TABLE).unwrap_or_else(|e| panic!("{TABLE}: {e}"));
    let mut lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    let header: Vec<&str> = lines.next().expect("a header row").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
    };
    let (kind, status, code) = (col("kind"), col("http_status"), col("http_code"));
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            (
                cells[kind].parse().expect("a kind the core knows"),
                cells[status].parse().expect("an HTTP status"),
                cells[code].to_string(),
            )
        })
        .collect()
}

/// A real error of `kind`, made the way a request or the server would meet it.
fn example(kind: ErrorKind, dir: &Path) -> Option<Error> {
    let e = match kind {
        ErrorKind::InvalidInput => rules::check_name("pipeline", "  ").err(),
        ErrorKind::NotEnoughData => DurationModel::train(&[], RandomForestParams::new()).err(),
        ErrorKind::NoSafeConfig => {
            let mut ctx = RunContext::for_tool("cmake");
            ctx.capacity = Some(Capacity {
                cpu_cores: Some(0.01),
                memory_bytes: Some(1),
            });
            Optimizer::new(OptimizerParams::default())
                .ok()?
                .suggest(None, &[], &ctx, Some(1))
                .err()
        }
        ErrorKind::Model => DurationModel::from_bytes(b"not a model").err(),
        ErrorKind::NotStored => ModelStore::open(dir.join("models"))
            .ok()?
            .load_latest("team/app")
            .err(),
        ErrorKind::NotFound => DurationModel::load(dir.join("missing.imrf")).err(),
        // Reading a folder as a file: an OS error that is not "not found".
        ErrorKind::Io => DurationModel::load(dir).err(),
        ErrorKind::Policy => parse_matchers("alertname=~\"(unclosed\"").err(),
        // Collectors read /proc and cache tools' output; the server never runs one, but a
        // future route might, and its answer is the table's too.
        ErrorKind::Collector => Some(Error::Collector {
            source_name: "/proc/stat".into(),
            reason: "unreadable".into(),
        }),
        _ => None,
    };
    e.filter(|e| e.kind() == kind)
}

async fn body_of(e: AppError) -> (u16, serde_json::Value) {
    let resp = e.into_response();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn every_kind_is_answered_as_the_table_says() {
    let rows = table();
    let listed: Vec<ErrorKind> = rows.iter().map(|r| r.0).collect();
    assert_eq!(
        listed,
        ErrorKind::ALL,
        "the table lists every kind once, in order"
    );
    let dir = tempfile::tempdir().unwrap();
    for (kind, http_status, http_code) in rows {
        let e = example(kind, dir.path()).unwrap_or_else(|| {
            panic!("no example error of kind {kind}: add one to example() in this test")
        });
        let field = e.field().map(str::to_string);
        let message = e.to_string();
        let app = AppError::from(e);
        assert_eq!(app.status().as_u16(), http_status, "{kind}: {message}");
        assert_eq!(app.code(), http_code, "{kind}: {message}");
        let (status, body) = body_of(app).await;
        assert_eq!(status, http_status, "{kind}: {body}");
        assert_eq!(body["error"]["code"], http_code.as_str(), "{kind}: {body}");
        assert_eq!(body["error"]["message"], message.as_str(), "{kind}: {body}");
        // The field at fault travels with what the client can fix; nothing is invented.
        let expected_field = if http_status == 422 { field } else { None };
        assert_eq!(
            body["error"]["field"].as_str(),
            expected_field.as_deref(),
            "{kind}: {body}"
        );
    }
}

#[tokio::test]
async fn a_field_named_by_the_core_reaches_the_client() {
    let e = rules::check_duration("steps[2].duration_s", -1.0).unwrap_err();
    let (status, body) = body_of(e.into()).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "steps[2].duration_s");
    let e = Error::InvalidParams {
        param: "n_trees",
        value: "0".into(),
        reason: "must be at least 1".into(),
    };
    let (status, body) = body_of(e.into()).await;
    assert_eq!((status, &body["error"]["field"]), (422, &"n_trees".into()));
    let e = Error::FeatureCount {
        expected: 3,
        found: 2,
    };
    let (status, body) = body_of(e.into()).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (422, &"invalid_input".into())
    );
}
