#![cfg(feature = "healing")]
//! Parameter templates through the public API: every placeholder source, substituted values
//! kept as data, unresolved placeholders and the template syntax.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use inframind_core::healing::{Alert, AlertStatus, LabelSet, Template};

fn alert() -> Alert {
    Alert {
        status: AlertStatus::Firing,
        labels: LabelSet::from([
            ("pod".into(), "cart-7d9f".into()),
            ("namespace".into(), "shop".into()),
            ("empty".into(), String::new()),
        ]),
        annotations: LabelSet::from([("summary".into(), "${label.pod} is down".into())]),
        starts_at: jiff::Timestamp::UNIX_EPOCH,
        ends_at: None,
        generator_url: String::new(),
        fingerprint: "0123456789abcdef".into(),
    }
}

#[test]
fn renders_all_sources() {
    let t = Template::parse(
        "${label.namespace}/${label.pod} ${status} ${fingerprint} ${label.zone:-eu-1}",
    )
    .unwrap();
    assert_eq!(
        t.render(&alert()).unwrap(),
        "shop/cart-7d9f firing 0123456789abcdef eu-1"
    );
}

#[test]
fn substituted_values_are_data() {
    // The annotation's value contains a placeholder: it is copied, not expanded.
    let t = Template::parse("${annotation.summary}").unwrap();
    assert_eq!(t.render(&alert()).unwrap(), "${label.pod} is down");
}

#[test]
fn missing_or_empty_without_default_is_unresolved() {
    let t = Template::parse("kubectl delete pod ${label.podname}").unwrap();
    assert_eq!(
        t.render(&alert()).unwrap_err().placeholder,
        "${label.podname}"
    );
    let t = Template::parse("${label.empty}").unwrap();
    assert!(t.render(&alert()).is_err());
    let t = Template::parse("${label.empty:-}").unwrap();
    assert_eq!(
        t.render(&alert()).unwrap(),
        "",
        "an explicit empty default is allowed"
    );
}

#[test]
fn syntax() {
    assert_eq!(
        Template::parse("cost $5 $${x}")
            .unwrap()
            .render(&alert())
            .unwrap(),
        "cost $5 ${x}"
    );
    assert!(Template::parse("${label.pod")
        .unwrap_err()
        .contains("unclosed"));
    assert!(Template::parse("${labels.pod}")
        .unwrap_err()
        .contains("unknown source"));
    assert!(Template::parse("${label.}").is_err());
    assert!(Template::parse("${pod}").is_err());
    assert!(Template::parse("plain").unwrap().is_literal());
}
