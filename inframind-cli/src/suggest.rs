//! `inframind suggest`: the optimizer's next config for one pipeline, or a table of all.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use inframind_core::tool_env::env_for;
use inframind_core::{
    BuildConfig, BuildRun, Capacity, DurationModel, ErrorKind, ModelStore, Optimizer,
    OptimizerParams, RunContext, Suggestion,
};
use serde::Serialize;

use crate::cli::{SuggestArgs, SuggestFormat};
use crate::failure::{Failure, Result};
use crate::history::{warn_skipped, History};
use crate::output::{self, Table};
use crate::units::{format_bytes, parse_bytes};

/// One pipeline's answer.
#[derive(Debug, Serialize)]
struct Answer {
    pipeline: String,
    tool: String,
    suggestion: Suggestion,
    /// The variables that make the tool use the suggestion.
    env: BTreeMap<String, String>,
}

/// A pipeline of `--all` that got no suggestion.
#[derive(Debug, Serialize)]
struct Refusal {
    pipeline: String,
    error: String,
}

pub(crate) fn run(args: &SuggestArgs) -> Result<()> {
    let capacity = capacity(args)?;
    let history = History::read(&args.history.history, args.history.skip_bad)?;
    warn_skipped(&args.history.history, &history.bad);
    let store = ModelStore::open(&args.store)?;
    let optimizer = Optimizer::new(OptimizerParams::default())?;
    let ask = |pipeline: &str, runs: &[BuildRun]| -> Result<Answer> {
        let tool = args
            .tool
            .clone()
            .or_else(|| runs.last().map(|r| r.tool.clone()))
            .unwrap_or_else(|| "unknown".into());
        let context = RunContext {
            capacity,
            ..RunContext::for_tool(tool.clone())
        };
        let model = stored_model(&store, pipeline)?;
        let suggestion = optimizer.suggest(model.as_ref(), runs, &context, None)?;
        let env = env_for(&tool, &suggestion.config);
        Ok(Answer {
            pipeline: pipeline.to_owned(),
            tool,
            suggestion,
            env,
        })
    };
    if args.all {
        return all(args, &history, ask);
    }
    let pipeline = args.pipeline.as_deref().unwrap_or_default();
    let runs = history.pipelines.get(pipeline).ok_or_else(|| {
        Failure::input(format!(
            "pipeline {pipeline:?} has no valid run in {}",
            args.history.history.display()
        ))
    })?;
    let answer = ask(pipeline, runs)?;
    match args.format {
        SuggestFormat::Text => output::print(&text(&answer)),
        SuggestFormat::Json => output::print(&output::json(&answer)?),
        SuggestFormat::Csv => output::print(&table(&[Ok(answer)]).to_csv()),
        SuggestFormat::Env => output::print(&env_lines(&answer.env)),
        SuggestFormat::Github => github(&answer),
        SuggestFormat::Gitlab => gitlab(&answer, &args.dotenv),
    }
}

fn capacity(args: &SuggestArgs) -> Result<Option<Capacity>> {
    let memory_bytes = args
        .capacity_memory
        .as_deref()
        .map(parse_bytes)
        .transpose()?;
    Ok(
        (args.capacity_cores.is_some() || memory_bytes.is_some()).then_some(Capacity {
            cpu_cores: args.capacity_cores,
            memory_bytes,
        }),
    )
}

/// The newest stored model that decodes; none (a cold start) when nothing is stored.
fn stored_model(store: &ModelStore, pipeline: &str) -> Result<Option<DurationModel>> {
    match store.load_latest(pipeline) {
        Ok(loaded) => {
            for (version, reason) in &loaded.skipped {
                eprintln!("warning: {pipeline}: model v{version} skipped: {reason}");
            }
            Ok(Some(loaded.model))
        }
        Err(e) if matches!(e.kind(), ErrorKind::NotStored | ErrorKind::NotFound) => {
            // Versions that exist but do not decode deserve a word; no model at all is normal.
            if store.list(pipeline).is_ok_and(|v| !v.is_empty()) {
                eprintln!("warning: {e}; suggesting without a model");
            }
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn all(
    args: &SuggestArgs,
    history: &History,
    ask: impl Fn(&str, &[BuildRun]) -> Result<Answer>,
) -> Result<()> {
    let answers: Vec<std::result::Result<Answer, (String, Failure)>> = history
        .pipelines
        .iter()
        .map(|(p, runs)| ask(p, runs).map_err(|f| (p.clone(), f)))
        .collect();
    if answers.is_empty() {
        return Err(Failure::input(format!(
            "{} holds no valid run",
            args.history.history.display()
        )));
    }
    match args.format {
        SuggestFormat::Text => output::print(&table(&answers).to_text(output::stdout_styled()))?,
        SuggestFormat::Csv => output::print(&table(&answers).to_csv())?,
        SuggestFormat::Json => {
            #[derive(Serialize)]
            struct All<'a> {
                pipelines: Vec<&'a Answer>,
                refused: Vec<Refusal>,
            }
            let doc = All {
                pipelines: answers.iter().filter_map(|a| a.as_ref().ok()).collect(),
                refused: answers
                    .iter()
                    .filter_map(|a| a.as_ref().err())
                    .map(|(p, f)| Refusal {
                        pipeline: p.clone(),
                        error: f.message.clone(),
                    })
                    .collect(),
            };
            output::print(&output::json(&doc)?)?;
        }
        SuggestFormat::Env | SuggestFormat::Github | SuggestFormat::Gitlab => {
            return Err(Failure::input(
                "--all prints text, json or csv; env, github and gitlab need one --pipeline",
            ))
        }
    }
    if answers.iter().all(|a| a.is_err()) {
        if let Some(Err((_, f))) = answers.into_iter().next() {
            return Err(f);
        }
    }
    Ok(())
}

/// `4 jobs, 2.5 cores, 16GiB`.
pub(crate) fn describe_config(c: &BuildConfig) -> String {
    let cores = format!("{:.2}", c.cpu_cores);
    let cores = cores.trim_end_matches('0').trim_end_matches('.');
    format!(
        "{} jobs, {cores} cores, {}",
        c.concurrency,
        format_bytes(c.memory_bytes)
    )
}

fn predicted(s: &Suggestion) -> String {
    s.predicted_duration_s
        .map_or_else(|| "-".into(), output::seconds)
}

fn change(s: &Suggestion) -> String {
    match (s.expected_change_s, s.baseline_duration_s) {
        (Some(d), Some(base)) if base > 0.0 => {
            format!(
                "{}{} ({:+.1}%)",
                if d >= 0.0 { "+" } else { "" },
                output::seconds(d),
                d / base * 100.0
            )
        }
        (Some(d), _) => output::seconds(d),
        _ => "-".into(),
    }
}

fn bound_by(s: &Suggestion) -> String {
    let names: Vec<&str> = s
        .guards
        .iter()
        .filter(|g| g.binding)
        .map(|g| g.kind.as_str())
        .collect();
    if names.is_empty() {
        "-".into()
    } else {
        names.join(" ")
    }
}

fn table(answers: &[std::result::Result<Answer, (String, Failure)>]) -> Table {
    let mut t = Table::new(vec![
        "PIPELINE",
        "TOOL",
        "CURRENT",
        "SUGGESTED",
        "PREDICTED",
        "CHANGE",
        "BOUND BY",
        "MODEL",
    ]);
    for a in answers {
        match a {
            Ok(a) => {
                let s = &a.suggestion;
                t.push(vec![
                    a.pipeline.clone(),
                    a.tool.clone(),
                    describe_config(&s.baseline_config),
                    describe_config(&s.config),
                    predicted(s),
                    change(s),
                    bound_by(s),
                    s.model_version
                        .clone()
                        .unwrap_or_else(|| "cold start".into()),
                ]);
            }
            Err((p, f)) => t.push(vec![
                p.clone(),
                "-".into(),
                "-".into(),
                format!("error: {f}"),
            ]),
        }
    }
    t
}

fn text(a: &Answer) -> String {
    let s = &a.suggestion;
    let mut out = output::pairs(&[
        ("pipeline", a.pipeline.clone()),
        ("tool", a.tool.clone()),
        ("current", describe_config(&s.baseline_config)),
        ("suggested", describe_config(&s.config)),
        ("predicted", predicted(s)),
        ("change", change(s)),
        ("bound by", bound_by(s)),
        (
            "model",
            s.model_version
                .clone()
                .unwrap_or_else(|| "cold start".into()),
        ),
    ]);
    out.push_str("\nwhy:\n");
    for line in &s.rationale {
        out.push_str(&format!("  - {line}\n"));
    }
    out
}

/// `export NAME=value`, quoted for a POSIX shell where needed.
fn env_lines(env: &BTreeMap<String, String>) -> String {
    env.iter()
        .map(|(k, v)| format!("export {k}={}\n", shell_quote(v)))
        .collect()
}

fn shell_quote(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./=:,+@%".contains(c));
    if plain {
        v.to_owned()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

/// `NAME=value` lines, the format of `$GITHUB_ENV`, `$GITHUB_OUTPUT` and GitLab dotenv reports
/// (none of the values holds a newline).
fn dotenv_lines(env: &BTreeMap<String, String>) -> String {
    env.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

fn append(path: &Path, text: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| Failure::io("open", path, e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Failure::io("write", path, e))
}

fn github(a: &Answer) -> Result<()> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                Failure::input(format!(
                    "--format github needs ${name}, which GitHub Actions sets in a workflow step"
                ))
            })
    };
    let (env_file, output_file) = (var("GITHUB_ENV")?, var("GITHUB_OUTPUT")?);
    let lines = dotenv_lines(&a.env);
    append(Path::new(&env_file), &lines)?;
    append(Path::new(&output_file), &lines)?;
    output::print(&format!(
        "{}: {} ({} variables written to $GITHUB_ENV and $GITHUB_OUTPUT)\n",
        a.pipeline,
        describe_config(&a.suggestion.config),
        a.env.len()
    ))
}

fn gitlab(a: &Answer, dotenv: &Path) -> Result<()> {
    std::fs::write(dotenv, dotenv_lines(&a.env)).map_err(|e| Failure::io("write", dotenv, e))?;
    output::print(&format!(
        "{}: {} ({} variables written to {})\n",
        a.pipeline,
        describe_config(&a.suggestion.config),
        a.env.len(),
        dotenv.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_values_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("-j6"), "-j6");
        assert_eq!(shell_quote("-T 4"), "'-T 4'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
