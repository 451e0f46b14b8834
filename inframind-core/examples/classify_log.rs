//! Classify a failed CI log: prints one JSON object with `category`, `confidence`, `evidence`
//! and `remediation`.
//!
//! ```sh
//! cargo run --release -p inframind-core --example classify_log -- FILE
//! some-ci-tool logs | cargo run --release -p inframind-core --example classify_log -- -
//! cargo run --release -p inframind-core --example classify_log -- --patterns ours.yaml FILE
//! ```
//!
//! The log is streamed: memory stays bounded whatever its size. `--patterns FILE` adds a YAML
//! (or `.json`) pattern file to the built-in library. Exits 2 on invalid input.

use std::io::BufReader;
use std::io::Write;
use std::process::ExitCode;

use inframind_core::healing::Classifier;

fn run() -> Result<String, Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let classifier = match args.iter().position(|a| a == "--patterns") {
        Some(i) if i + 1 < args.len() => {
            let file = args.remove(i + 1);
            args.remove(i);
            Classifier::builtin_with_file(file)?
        }
        Some(_) => return Err("--patterns needs a file".into()),
        None => Classifier::builtin()?,
    };
    let [input] = args.as_slice() else {
        return Err("usage: classify_log [--patterns FILE] LOG (- for stdin)".into());
    };
    let result = if input == "-" {
        classifier.classify_reader(std::io::stdin().lock())?
    } else {
        let file = std::fs::File::open(input).map_err(|e| format!("open {input}: {e}"))?;
        classifier.classify_reader(BufReader::with_capacity(256 * 1024, file))?
    };
    Ok(serde_json::to_string_pretty(&result)?)
}

fn main() -> ExitCode {
    match run() {
        Ok(json) => {
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout().lock(), "{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("classify_log: {e}");
            ExitCode::from(2)
        }
    }
}
