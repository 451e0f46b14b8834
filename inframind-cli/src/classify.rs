//! `inframind classify`: the core classifier on a log file or standard input.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use inframind_core::healing::{Classification, Classifier};

use crate::cli::{ClassifyArgs, Format};
use crate::failure::{Failure, Result};
use crate::output::{self, Table};

pub(crate) fn run(args: &ClassifyArgs) -> Result<()> {
    let classifier = match &args.patterns {
        Some(file) => Classifier::builtin_with_file(file)
            .map_err(|e| Failure::from(e).context(file.display()))?,
        None => Classifier::builtin()?,
    };
    let result = if args.log == Path::new("-") {
        classifier
            .classify_reader(std::io::stdin().lock())
            .map_err(|e| Failure::io("read", Path::new("<stdin>"), e))?
    } else {
        let file = File::open(&args.log).map_err(|e| Failure::io("open", &args.log, e))?;
        // Logs can be gigabytes: the classifier streams them line by line.
        classifier
            .classify_reader(BufReader::with_capacity(256 * 1024, file))
            .map_err(|e| Failure::io("read", &args.log, e))?
    };
    let text = match args.format {
        Format::Json => output::json(&result)?,
        Format::Text => text(&result)?,
        Format::Csv => evidence_table(&result).to_csv(),
    };
    output::print(&text)
}

fn text(c: &Classification) -> Result<String> {
    let remediation = serde_json::to_string(&c.remediation)
        .map_err(|e| Failure::input(format!("cannot render the remediation: {e}")))?;
    let mut out = output::pairs(&[
        ("category", c.category.as_str().into()),
        ("confidence", format!("{:.2}", c.confidence)),
        ("record as", c.run_status().to_string()),
        ("remediation", remediation),
    ]);
    if !c.evidence.is_empty() {
        out.push_str("\nevidence:\n");
        for e in &c.evidence {
            out.push_str(&format!("  line {} [{}]: {}\n", e.line, e.pattern, e.text));
        }
    }
    Ok(out)
}

fn evidence_table(c: &Classification) -> Table {
    let mut t = Table::new(vec!["line", "category", "pattern", "weight", "text"]);
    for e in &c.evidence {
        t.push(vec![
            e.line.to_string(),
            e.category.as_str().into(),
            e.pattern.clone(),
            e.weight.to_string(),
            e.text.clone(),
        ]);
    }
    t
}
