//! The ccache and sccache statistics parsers on the tools' saved output (captured from real
//! runs) and on generated text.
#![cfg(all(target_os = "linux", feature = "collect"))]

use inframind_core::collect::{parse_ccache_stats, parse_sccache_stats, CacheTool};

const CCACHE_475: &str = include_str!("data/collect/ccache-4.7.5-print-stats.txt");
const CCACHE_475_EMPTY: &str = include_str!("data/collect/ccache-4.7.5-print-stats-empty.txt");
const SCCACHE_040: &str = include_str!("data/collect/sccache-0.4.0-stats.json");
const SCCACHE_040_EMPTY: &str = include_str!("data/collect/sccache-0.4.0-stats-empty.json");
const SCCACHE_ADV: &str = include_str!("data/collect/sccache-adv-counts-stats.json");

#[test]
fn ccache_4_saved_output_one_hit_one_miss() {
    // Captured from ccache 4.7.5 after compiling one file twice into an empty cache.
    let s = parse_ccache_stats(CCACHE_475).unwrap();
    assert_eq!((s.tool, s.hits, s.misses), (CacheTool::Ccache, 1, 1));
    assert_eq!(s.hit_ratio(), Some(0.5));
}

#[test]
fn ccache_empty_cache_has_no_ratio() {
    let s = parse_ccache_stats(CCACHE_475_EMPTY).unwrap();
    assert_eq!((s.hits, s.misses, s.hit_ratio()), (0, 0, None));
}

#[test]
fn ccache_3_7_names_and_crlf_lines() {
    let s =
        parse_ccache_stats("cache_hit_direct 4\r\ncache_hit_preprocessed 2\r\ncache_miss 6\r\n")
            .unwrap();
    assert_eq!((s.hits, s.misses), (6, 6));
}

#[test]
fn ccache_human_output_is_refused_with_a_hint() {
    let err = parse_ccache_stats("Cacheable calls: 2 / 2 (100.0%)\n  Hits: 1 / 2 (50.00%)\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("ccache --print-stats"), "{err}");
}

#[test]
fn ccache_bad_number_names_line_and_key() {
    let err = parse_ccache_stats("direct_cache_hit\t1\ncache_miss\tlots\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("cache_miss"),
        "{err}"
    );
}

#[test]
fn sccache_0_4_saved_output_one_hit_one_miss() {
    // Captured from Debian's sccache 0.4.0 after compiling one file twice.
    let s = parse_sccache_stats(SCCACHE_040).unwrap();
    assert_eq!((s.tool, s.hits, s.misses), (CacheTool::Sccache, 1, 1));
    let empty = parse_sccache_stats(SCCACHE_040_EMPTY).unwrap();
    assert_eq!((empty.hits, empty.misses), (0, 0));
}

#[test]
fn sccache_newer_format_with_adv_counts_sums_languages() {
    let s = parse_sccache_stats(SCCACHE_ADV).unwrap();
    assert_eq!((s.hits, s.misses), (343, 1760));
}

#[test]
fn sccache_old_plain_numbers() {
    let s = parse_sccache_stats(r#"{"stats":{"cache_hits":7,"cache_misses":3}}"#).unwrap();
    assert_eq!((s.hits, s.misses), (7, 3));
}

#[test]
fn sccache_errors_name_the_field() {
    let e = parse_sccache_stats("Compile requests 2")
        .unwrap_err()
        .to_string();
    assert!(e.contains("invalid JSON for sccache"), "{e}");
    let e = parse_sccache_stats(r#"{"stats":{"cache_hits":{"counts":{}}}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("stats.cache_misses is missing"), "{e}");
    let e = parse_sccache_stats(r#"{"stats":{"cache_hits":{"counts":{"C":-1}},"cache_misses":0}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("stats.cache_hits.counts[\"C\"]"), "{e}");
    let e = parse_sccache_stats(r#"{"cache_hits":1}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"stats\""), "{e}");
}

proptest::proptest! {
    #[test]
    fn parsers_never_panic_on_arbitrary_text(text in "\\PC*") {
        let _ = parse_ccache_stats(&text);
        let _ = parse_sccache_stats(&text);
    }

    #[test]
    fn ccache_parser_reads_any_counts(d in 0u64..u64::MAX / 2, p in 0u64..u64::MAX / 2, m: u64) {
        let text = format!("stats_updated_timestamp\t0\ndirect_cache_hit\t{d}\ncache_miss\t{m}\npreprocessed_cache_hit\t{p}\n");
        let s = parse_ccache_stats(&text).unwrap();
        proptest::prop_assert_eq!((s.hits, s.misses), (d + p, m));
    }

    #[test]
    fn sccache_parser_sums_any_languages(counts in proptest::collection::btree_map("[A-Za-z/+]{1,8}", 0u64..1 << 40, 0..6)) {
        let obj = serde_json::json!({"stats": {"cache_hits": {"counts": counts}, "cache_misses": {"counts": {}}}});
        let s = parse_sccache_stats(&obj.to_string()).unwrap();
        proptest::prop_assert_eq!(s.hits, counts.values().sum::<u64>());
    }
}
