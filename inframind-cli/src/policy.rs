//! `inframind policy test`: policies dry-run against an Alertmanager webhook payload.

use std::io::Read;
use std::path::Path;

use inframind_core::healing::{Decision, PolicySet, SystemClock, Webhook};
use serde::Serialize;

use crate::cli::{Format, PolicyTestArgs};
use crate::failure::{Failure, Result};
use crate::output::{self, Table};

#[derive(Serialize)]
struct Output<'a> {
    decisions: &'a [Decision],
}

pub(crate) fn test(args: &PolicyTestArgs) -> Result<()> {
    let set = PolicySet::from_path(&args.policies)
        .map_err(|e| Failure::from(e).context(args.policies.display()))?;
    let body = if args.alerts == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Failure::io("read", Path::new("<stdin>"), e))?;
        s
    } else {
        std::fs::read_to_string(&args.alerts).map_err(|e| Failure::io("read", &args.alerts, e))?
    };
    let hook =
        Webhook::from_json(&body).map_err(|e| Failure::from(e).context(args.alerts.display()))?;
    let eval = set.dry_run(&hook, &SystemClock);
    let text = match args.format {
        Format::Json => output::json(&Output {
            decisions: &eval.decisions,
        })?,
        Format::Text if eval.decisions.is_empty() => "no policy matches these alerts\n".into(),
        Format::Text => table(&eval.decisions).to_text(output::stdout_styled()),
        Format::Csv => table(&eval.decisions).to_csv(),
    };
    output::print(&text)
}

fn table(decisions: &[Decision]) -> Table {
    let mut t = Table::new(vec![
        "POLICY", "ALERT", "STATUS", "OUTCOME", "ACTION", "REASON",
    ]);
    for d in decisions {
        t.push(vec![
            d.policy.clone(),
            d.alertname.clone(),
            d.status.as_str().into(),
            d.outcome.to_string(),
            d.action
                .as_ref()
                .map_or_else(|| "-".into(), |a| a.tool.clone()),
            d.reason.clone(),
        ]);
    }
    t
}
