//! The C ABI answers each core error kind with the status the hosts' table
//! (`inframind-core/tests/data/error_kinds.tsv`, column `c_status`) gives it, so the C ABI, the
//! Python wheel and the REST server cannot disagree silently.

use std::collections::HashMap;
use std::path::Path;

use inframind::error::status_of_kind;
use inframind_core::ErrorKind;

/// The table's `kind` to `c_status` pairs, in the table's order.
fn c_status_column() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../inframind-core/tests/data/error_kinds.tsv");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    let header: Vec<&str> = lines.next().expect("a header row").split('\t').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no `{name}` column in {header:?}"))
    };
    let (kind, c_status) = (column("kind"), column("c_status"));
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            assert_eq!(cells.len(), header.len(), "row `{l}`");
            (cells[kind].to_string(), cells[c_status].to_string())
        })
        .collect()
}

#[test]
fn every_kind_gets_the_tables_c_status() {
    let rows = c_status_column();
    for (kind, want) in &rows {
        let parsed: ErrorKind = kind
            .parse()
            .unwrap_or_else(|e| panic!("table kind `{kind}`: {e}"));
        assert_eq!(status_of_kind(parsed).name(), want, "kind {kind}");
    }
    let listed: HashMap<&str, &str> = rows.iter().map(|(k, s)| (k.as_str(), s.as_str())).collect();
    assert_eq!(listed.len(), rows.len(), "a kind is listed twice");
    for kind in ErrorKind::ALL {
        assert!(
            listed.contains_key(kind.as_str()),
            "kind {kind} is missing from the table"
        );
    }
}
