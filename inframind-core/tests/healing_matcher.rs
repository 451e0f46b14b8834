#![cfg(feature = "healing")]
//! Alertmanager matchers through the public API: operators, quoting, a missing label read as
//! the empty string, escapes, errors that name the position, and matcher lists.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use inframind_core::healing::{parse_matchers, LabelSet, Matcher};
use inframind_core::Error;

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn operators_and_quoting() {
    let l = labels(&[("severity", "critical"), ("namespace", "kube-system")]);
    assert!(Matcher::parse(r#"severity="critical""#)
        .unwrap()
        .matches(&l));
    assert!(Matcher::parse("severity=critical").unwrap().matches(&l));
    assert!(Matcher::parse("  severity  =  critical  ")
        .unwrap()
        .matches(&l));
    assert!(!Matcher::parse(r#"namespace!="kube-system""#)
        .unwrap()
        .matches(&l));
    assert!(Matcher::parse(r#"severity=~"critical|page""#)
        .unwrap()
        .matches(&l));
    assert!(!Matcher::parse(r#"severity=~"crit""#).unwrap().matches(&l));
    assert!(Matcher::parse(r#"severity!~"crit""#).unwrap().matches(&l));
    assert!(Matcher::parse(r#"severity=~"crit.*""#).unwrap().matches(&l));
}

#[test]
fn missing_label_is_empty_string() {
    let l = labels(&[("a", "1")]);
    assert!(Matcher::parse(r#"team="""#).unwrap().matches(&l));
    assert!(Matcher::parse("team=").unwrap().matches(&l));
    assert!(Matcher::parse(r#"team!="x""#).unwrap().matches(&l));
    assert!(!Matcher::parse(r#"team!="""#).unwrap().matches(&l));
    assert!(Matcher::parse(r#"team=~".*""#).unwrap().matches(&l));
    assert!(!Matcher::parse(r#"team=~".+""#).unwrap().matches(&l));
    assert!(Matcher::parse(r#"team!~".+""#).unwrap().matches(&l));
}

#[test]
fn escapes() {
    let m = Matcher::parse(r#"q="she said \"hi\" \\ back\nthen \d""#).unwrap();
    assert_eq!(m.value(), "she said \"hi\" \\ back\nthen \\d");
    assert_eq!(
        m.to_string(),
        r#"q="she said \"hi\" \\ back\nthen \\d""#,
        "canonical form re-escapes"
    );
    assert_eq!(Matcher::parse(r"a=b\").unwrap().value(), "b\\");
}

#[test]
fn errors_name_text_and_position() {
    match Matcher::parse(r#"a="b"c""#) {
        Err(Error::Matcher {
            matcher, position, ..
        }) => {
            assert_eq!(matcher, r#"a="b"c""#);
            assert_eq!(position, 4);
        }
        other => panic!("{other:?}"),
    }
    match Matcher::parse("9a=b") {
        Err(Error::Matcher { position, .. }) => assert_eq!(position, 0),
        other => panic!("{other:?}"),
    }
    match Matcher::parse("abc") {
        Err(Error::Matcher {
            position, reason, ..
        }) => {
            assert_eq!(position, 3);
            assert!(reason.contains("expected one of"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    for nested in [
        r#"a=~"a++""#,
        r#"a=~"x**""#,
        r#"a=~"b{2}*""#,
        r#"a=~"c{1001}""#,
    ] {
        assert!(
            Matcher::parse(nested).is_err(),
            "{nested}: Go's RE2 rejects it"
        );
    }
    assert!(Matcher::parse(r#"a=~"(a+)+|b*?|c{1000}""#).is_ok());
    match Matcher::parse(r#"a=~"(""#) {
        Err(Error::Matcher { reason, .. }) => assert!(reason.contains("regex"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(Matcher::parse(r#"a="unterminated"#).is_err());
    match parse_matchers(r#"{a="1", 9b="2"}"#) {
        Err(Error::Matcher { position, .. }) => assert_eq!(position, 8),
        other => panic!("{other:?}"),
    }
}

#[test]
fn lists() {
    let ms = parse_matchers(r#"{foo = "bar", dings != "bums", }"#).unwrap();
    assert_eq!(ms.len(), 2);
    assert_eq!(ms[1].to_string(), r#"dings!="bums""#);
    let ms = parse_matchers(r#"quote="She said: \"Hi, ladies!\"""#).unwrap();
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].value(), r#"She said: "Hi, ladies!""#);
    assert!(parse_matchers("a=b,,c=d").is_err());
    assert_eq!(parse_matchers("").unwrap().len(), 0);
}
