//! What a request may carry at the edge: the bearer scheme in any case, and a JSON body with
//! nothing but whitespace after the value.

mod support;

use support::{error_of, send_raw, sqlite_app, TOKEN};

const BODY: &str = r#"{"pipeline": "p", "context": {"tool": "make"}}"#;

#[tokio::test]
async fn bearer_scheme_is_accepted_in_any_case() {
    let app = sqlite_app().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEARER"] {
        let value = format!("{scheme} {TOKEN}");
        let (s, v) = send_raw(
            &app.router,
            "GET",
            "/policies",
            None,
            &[("authorization", &value)],
        )
        .await;
        assert_eq!(s, 200, "{scheme}: {v}");
    }
    for value in [
        format!("bearer {TOKEN}x"),
        format!("Basic {TOKEN}"),
        format!("bearer{TOKEN}"),
    ] {
        let (s, v) = send_raw(
            &app.router,
            "GET",
            "/policies",
            None,
            &[("authorization", &value)],
        )
        .await;
        assert_eq!(s, 401, "{value}: {v}");
    }
}

#[tokio::test]
async fn trailing_garbage_after_the_json_is_refused_with_its_position() {
    let app = sqlite_app().await;
    let auth = [("x-im-token", TOKEN)];
    let garbage = format!("{BODY} GARBAGE");
    let (s, v) = send_raw(
        &app.router,
        "POST",
        "/optimize",
        Some(garbage.as_bytes()),
        &auth,
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let (code, field) = error_of(&v);
    assert_eq!(code, "invalid_input");
    assert_eq!(field, None);
    let message = v["error"]["message"].as_str().unwrap();
    let column = BODY.len() + 2;
    assert!(
        message.contains(&format!("line 1 column {column}")),
        "{message}"
    );
    // A second value is garbage too.
    let twice = format!("{BODY}{BODY}");
    let (s, v) = send_raw(
        &app.router,
        "POST",
        "/optimize",
        Some(twice.as_bytes()),
        &auth,
    )
    .await;
    assert_eq!(s, 422, "{v}");
    // Whitespace after the value is not.
    let spaced = format!(" {BODY} \r\n\t ");
    let (s, v) = send_raw(
        &app.router,
        "POST",
        "/optimize",
        Some(spaced.as_bytes()),
        &auth,
    )
    .await;
    assert_eq!(s, 200, "{v}");
}
