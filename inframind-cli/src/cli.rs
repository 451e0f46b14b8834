//! The command-line grammar.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Build-configuration suggestions from the CI history you already have.
#[derive(Debug, Parser)]
#[command(name = "inframind", version, about, propagate_version = true)]
#[command(
    after_help = "Example:\n  inframind import github jobs-*.json -o runs.jsonl\n  \
    inframind train --history runs.jsonl\n  inframind suggest --history runs.jsonl --all\n\n\
    Exit status: 0 ok, 1 runtime failure, 2 usage error or bad input."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Train one duration model per pipeline from a runs.jsonl history.
    #[command(
        after_help = "Example:\n  inframind train --history runs.jsonl --store ./inframind-models\n  \
        inframind train --history runs.jsonl --pipeline CI/build --skip-bad --format json"
    )]
    Train(TrainArgs),
    /// Suggest the configuration of a pipeline's next build.
    #[command(
        after_help = "Example:\n  inframind suggest --history runs.jsonl --pipeline CI/build\n  \
        inframind suggest --history runs.jsonl --pipeline CI/build --capacity-memory 16GiB --format env\n  \
        inframind suggest --history runs.jsonl --all --format csv"
    )]
    Suggest(SuggestArgs),
    /// Name the cause of a failed build log and what to do about it.
    #[command(after_help = "Example:\n  inframind classify build.log\n  \
        gh run view 123 --log-failed | inframind classify - --format json")]
    Classify(ClassifyArgs),
    /// Remediation policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Turn a CI provider's job listings into a runs.jsonl history.
    #[command(subcommand)]
    Import(ImportCommand),
}

/// Output format of commands that print data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns for people.
    Text,
    /// One JSON document.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

/// Output format of `suggest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SuggestFormat {
    /// Aligned columns and the rationale, for people.
    Text,
    /// One JSON document.
    Json,
    /// Comma-separated values with a header row.
    Csv,
    /// `export NAME=value` lines for a shell (`eval "$(inframind suggest ... --format env)"`).
    Env,
    /// `NAME=value` lines appended to `$GITHUB_ENV` and `$GITHUB_OUTPUT`.
    Github,
    /// A dotenv file for a GitLab `artifacts:reports:dotenv` (see `--dotenv`).
    Gitlab,
}

#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// Build runs, one JSON object per line (the REST API's `BuildRun`), oldest first.
    #[arg(long, value_name = "FILE", env = "INFRAMIND_HISTORY")]
    pub(crate) history: PathBuf,
    /// Warn about and skip invalid lines instead of stopping at the first one.
    #[arg(long)]
    pub(crate) skip_bad: bool,
}

#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    #[command(flatten)]
    pub(crate) history: HistoryArgs,
    /// Folder of versioned models.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "inframind-models",
        env = "INFRAMIND_STORE"
    )]
    pub(crate) store: PathBuf,
    /// Train only this pipeline.
    #[arg(long, value_name = "P")]
    pub(crate) pipeline: Option<String>,
    /// Trees per forest (fewer trains faster and predicts less smoothly).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub(crate) trees: usize,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct SuggestArgs {
    #[command(flatten)]
    pub(crate) history: HistoryArgs,
    /// Folder of versioned models (a pipeline without one gets a cold-start suggestion).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "inframind-models",
        env = "INFRAMIND_STORE"
    )]
    pub(crate) store: PathBuf,
    /// The pipeline to suggest for.
    #[arg(
        long,
        value_name = "P",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub(crate) pipeline: Option<String>,
    /// One row per pipeline of the history.
    #[arg(long)]
    pub(crate) all: bool,
    /// Build tool (default: the tool of the pipeline's newest run).
    #[arg(long, value_name = "T")]
    pub(crate) tool: Option<String>,
    /// Most cores the build may have.
    #[arg(long, value_name = "N")]
    pub(crate) capacity_cores: Option<f64>,
    /// Most memory the build may have: 16GiB, 512MiB, 16G (binary), 16GB (decimal).
    #[arg(long, value_name = "SIZE")]
    pub(crate) capacity_memory: Option<String>,
    #[arg(long, value_enum, default_value_t = SuggestFormat::Text)]
    pub(crate) format: SuggestFormat,
    /// File written by `--format gitlab`.
    #[arg(long, value_name = "PATH", default_value = "inframind.env")]
    pub(crate) dotenv: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct ClassifyArgs {
    /// The log file, or `-` for standard input.
    #[arg(value_name = "FILE|-")]
    pub(crate) log: PathBuf,
    /// Extra patterns (YAML or JSON) added to the built-in library.
    #[arg(long, value_name = "FILE")]
    pub(crate) patterns: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Dry-run policies against an Alertmanager webhook payload and print the decisions.
    #[command(
        after_help = "Example:\n  inframind policy test policies.yaml alerts.json\n  \
        inframind policy test policies.json - --format json < alerts.json"
    )]
    Test(PolicyTestArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PolicyTestArgs {
    /// Policy file, YAML (`.yaml`, `.yml`) or JSON.
    #[arg(value_name = "POLICIES")]
    pub(crate) policies: PathBuf,
    /// The JSON body Alertmanager POSTs, or `-` for standard input.
    #[arg(value_name = "ALERTS.json")]
    pub(crate) alerts: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ImportCommand {
    /// GitHub Actions "list jobs for a workflow run" responses.
    #[command(after_help = "Example:\n  \
        gh api repos/OWNER/REPO/actions/runs/RUN_ID/jobs > jobs-RUN_ID.json\n  \
        inframind import github jobs-*.json -o runs.jsonl\n  \
        inframind import github jobs-*.json --catalogue runners.toml --tool cargo -o runs.jsonl\n\n\
        runners.toml maps runs-on labels to resources:\n  \
        [runners.big-linux]\n  cpu_cores = 16\n  memory = \"64GiB\"\n  concurrency = 16   # optional, default: the cores")]
    Github(ImportGithubArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ImportGithubArgs {
    /// JSON files as returned by `GET /repos/OWNER/REPO/actions/runs/RUN_ID/jobs`.
    #[arg(value_name = "FILE", required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// Write the runs here instead of standard output.
    #[arg(short, long, value_name = "runs.jsonl")]
    pub(crate) output: Option<PathBuf>,
    /// Runner catalogue (TOML) that overrides and extends the built-in GitHub-hosted sizes.
    #[arg(long, value_name = "FILE", env = "INFRAMIND_CATALOGUE")]
    pub(crate) catalogue: Option<PathBuf>,
    /// Build tool recorded on every run.
    #[arg(long, value_name = "T", default_value = "unknown")]
    pub(crate) tool: String,
}
