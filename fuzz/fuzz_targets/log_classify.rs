//! Build logs (`healing::classify`) as arbitrary bytes read as lossy UTF-8, and through
//! `Classifier::classify_reader` as raw bytes. A verdict's confidence lies in 0..1, its
//! evidence (at most 5 lines, in log order) points at lines of the log, and a verdict other
//! than `unknown` shows its evidence.
#![no_main]

use std::sync::OnceLock;

use inframind_core::healing::{classify, Category, Classification, Classifier};
use libfuzzer_sys::fuzz_target;

fn builtin() -> &'static Classifier {
    static C: OnceLock<Classifier> = OnceLock::new();
    C.get_or_init(|| Classifier::builtin().expect("the built-in patterns compile"))
}

fn check(c: &Classification, lines: u64, what: &str) {
    assert!(
        c.confidence.is_finite() && (0.0..=1.0).contains(&c.confidence),
        "{what}: confidence out of 0..1: {c:?}"
    );
    assert!(
        c.evidence.len() <= 5,
        "{what}: more than 5 evidence lines: {c:?}"
    );
    assert!(
        c.evidence.windows(2).all(|w| w[0].line <= w[1].line),
        "{what}: evidence not in log order: {c:?}"
    );
    for e in &c.evidence {
        assert!(
            e.line >= 1 && e.line <= lines.max(1),
            "{what}: evidence line {} outside a log of {lines} lines",
            e.line
        );
        assert!(e.weight.is_finite(), "{what}: non-finite weight: {c:?}");
    }
    if c.category == Category::Unknown {
        return;
    }
    assert!(
        !c.evidence.is_empty(),
        "{what}: a verdict without evidence: {c:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count() as u64 + 1;
    let whole = classify(&text);
    check(&whole, lines, "classify");
    let read = builtin()
        .classify_reader(data)
        .expect("reading from a slice cannot fail");
    check(&read, lines, "classify_reader");
});
