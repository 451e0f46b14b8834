//! The request metrics are labelled from a closed set: a client without a token must not be
//! able to grow the series (and the server's memory) with invented methods or paths.

mod support;

use support::{send_raw, sqlite_app};

#[tokio::test]
async fn invented_methods_and_paths_do_not_grow_the_series() {
    let app = sqlite_app().await;
    let r = &app.router;
    // A baseline scrape, so the bound below is relative to what the routes themselves produce.
    send_raw(r, "GET", "/healthz", None, &[]).await;
    send_raw(r, "GET", "/nope", None, &[]).await;
    send_raw(r, "BREW", "/healthz", None, &[]).await;
    let before = app.state.metrics.render();
    for i in 0..500 {
        let method = format!("INVENTED{i}");
        send_raw(r, &method, "/healthz", None, &[]).await;
    }
    for i in 0..500 {
        let path = format!("/no/such/path/{i}");
        send_raw(r, "GET", &path, None, &[]).await;
    }
    let after = app.state.metrics.render();
    let series = |t: &str| t.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(
        series(&after),
        series(&before),
        "1,000 invented requests added series:\n{after}"
    );
    // Only counts and sums change, by a few digits each.
    assert!(
        after.len() < before.len() + 1024,
        "/metrics grew from {} to {} bytes",
        before.len(),
        after.len()
    );
    assert!(
        after.contains(
            "inframind_http_requests_total{route=\"/healthz\",method=\"OTHER\",status=\"405\"} 501"
        ),
        "{after}"
    );
    assert!(
        after.contains(
            "inframind_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 501"
        ),
        "{after}"
    );
    assert!(!after.contains("INVENTED"));
    assert!(!after.contains("/no/such/path"));
}

#[test]
fn only_standard_methods_are_labels() {
    use server_example::metrics::method_label;
    for m in [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ] {
        assert_eq!(method_label(m), m);
    }
    for m in ["get", "BREW", "", "GET ", "PROPFIND"] {
        assert_eq!(method_label(m), "OTHER", "{m:?}");
    }
}
