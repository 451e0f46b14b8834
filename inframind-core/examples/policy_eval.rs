//! Dry-run remediation policies against an Alertmanager webhook payload, like
//! `amtool config routes test` or `st2-rule-tester`: a check users can put in CI.
//!
//! ```sh
//! cargo run --release -p inframind-core --example policy_eval -- POLICIES WEBHOOK
//! cargo run --release -p inframind-core --example policy_eval -- \
//!     inframind-core/tests/data/healing/policies/k8s.yaml \
//!     inframind-core/tests/data/healing/webhooks/crashloop.json
//! ```
//!
//! POLICIES is YAML (`.yaml`/`.yml`) or JSON; WEBHOOK is the JSON body Alertmanager POSTs (`-`
//! reads it from stdin). Prints `{"decisions": [...]}`; exits 2 on invalid input.

use std::io::Read;
use std::io::Write;
use std::process::ExitCode;

use inframind_core::healing::{Decision, PolicySet, SystemClock, Webhook};

#[derive(serde::Serialize)]
struct Output<'a> {
    decisions: &'a [Decision],
}

fn run() -> Result<String, Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [policies, webhook] = args.as_slice() else {
        return Err("usage: policy_eval POLICIES.{yaml,json} WEBHOOK.json (- for stdin)".into());
    };
    let set = PolicySet::from_path(policies)?;
    let body = if webhook == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        std::fs::read_to_string(webhook).map_err(|e| format!("read {webhook}: {e}"))?
    };
    let hook = Webhook::from_json(&body)?;
    let eval = set.dry_run(&hook, &SystemClock);
    Ok(serde_json::to_string_pretty(&Output {
        decisions: &eval.decisions,
    })?)
}

fn main() -> ExitCode {
    match run() {
        Ok(json) => {
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout().lock(), "{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("policy_eval: {e}");
            ExitCode::from(2)
        }
    }
}
