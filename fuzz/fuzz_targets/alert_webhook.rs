//! Alertmanager webhook bodies (`Webhook::from_slice`, as the server reads them) and single
//! alerts (`Alert::from_json`). What parses must parse back from its own JSON unchanged, and
//! every alert of a webhook carries a fingerprint.
#![no_main]

use inframind_core::healing::{Alert, Webhook};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(hook) = Webhook::from_slice(data) {
        assert!(
            hook.alerts.iter().all(|a| !a.fingerprint.is_empty()),
            "an alert without a fingerprint: {hook:?}"
        );
        let json = serde_json::to_vec(&hook).expect("a webhook renders as JSON");
        let back = Webhook::from_slice(&json)
            .unwrap_or_else(|e| panic!("a parsed webhook's JSON does not parse: {e}"));
        assert_eq!(back, hook, "webhook: parse(render(x)) != x");
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(alert) = Alert::from_json(text) {
        let json = serde_json::to_string(&alert).expect("an alert renders as JSON");
        let back = Alert::from_json(&json)
            .unwrap_or_else(|e| panic!("a parsed alert's JSON does not parse: {e}"));
        assert_eq!(back, alert, "alert: parse(render(x)) != x");
    }
});
