//! Accuracy of the built-in classifier on the labelled corpus of CI failure excerpts in
//! `tests/data/healing/logs/<expected category>/*.log`.
//!
//! Run with `cargo test -p inframind-core --test healing_corpus -- --nocapture` to see the
//! per-category table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::BufReader;

use inframind_core::healing::{classify, Category, Classifier};

fn category_from_dir(name: &str) -> Category {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .unwrap_or_else(|_| panic!("corpus directory {name:?} is not a category"))
}

#[test]
fn corpus_accuracy_at_least_90_percent() {
    let classifier = Classifier::builtin().unwrap();
    let root = support::data("logs");
    let mut per_category: BTreeMap<Category, (usize, usize)> = BTreeMap::new();
    let mut confusions = Vec::new();
    let mut dirs: Vec<_> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let expected = category_from_dir(dir.file_name().unwrap().to_str().unwrap());
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let text = fs::read_to_string(&file).unwrap();
            let got = classify(&text);
            // The streaming reader must agree with the in-memory path.
            let streamed = classifier
                .classify_reader(BufReader::with_capacity(64, fs::File::open(&file).unwrap()))
                .unwrap();
            assert_eq!(got, streamed, "{}", file.display());
            let entry = per_category.entry(expected).or_insert((0, 0));
            entry.1 += 1;
            if got.category == expected {
                entry.0 += 1;
            } else {
                confusions.push(format!(
                    "{}: expected {expected}, got {} ({:.2}) evidence {:?}",
                    file.strip_prefix(&root).unwrap().display(),
                    got.category,
                    got.confidence,
                    got.evidence
                        .iter()
                        .map(|e| (&e.pattern, &e.text))
                        .collect::<Vec<_>>()
                ));
            }
        }
    }
    let (right, total) = per_category
        .values()
        .fold((0, 0), |(r, t), (a, b)| (r + a, t + b));
    println!(
        "{:<14} {:>7} {:>6} {:>9}",
        "category", "correct", "total", "accuracy"
    );
    for (c, (r, t)) in &per_category {
        println!(
            "{:<14} {r:>7} {t:>6} {:>8.1}%",
            c.as_str(),
            100.0 * *r as f64 / *t as f64
        );
    }
    let accuracy = right as f64 / total as f64;
    println!(
        "{:<14} {right:>7} {total:>6} {:>8.1}%",
        "overall",
        100.0 * accuracy
    );
    for c in &confusions {
        println!("MISS {c}");
    }
    assert!(
        total >= 80,
        "the corpus must hold at least 80 excerpts, has {total}"
    );
    assert!(
        accuracy >= 0.90,
        "accuracy {:.1}% < 90%: {confusions:#?}",
        100.0 * accuracy
    );
}
