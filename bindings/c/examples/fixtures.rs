//! Writes the inputs the C and C++ tests of libinframind read: a small trained model, a demo
//! pipeline's history and a run context, policies, a webhook and a failed build log.
//!
//! ```sh
//! cargo run -p inframind-c --example fixtures -- DIR
//! ```
//!
//! The model is trained here, by this build of inframind-core, so it always has the feature
//! schema and file format the library under test reads.

use std::path::PathBuf;
use std::process::ExitCode;

use inframind_core::{demo, DurationModel, RandomForestParams, RunContext};

const POLICIES_YAML: &str = r#"# Remediation policies for the C/C++ tests.
policies:
  - name: restart-crashlooping-pod
    priority: 10
    condition:
      labels: {alertname: KubePodCrashLooping}
      matchers: ['namespace!~"kube-.*"']
    action:
      tool: restart_pod
      params: {namespace: "${label.namespace}", pod: "${label.pod}"}
    safety: {cooldown: 15m}
  - name: page-critical-dry
    priority: 5
    dry_run: true
    condition: {matchers: ['severity="critical"']}
    action: {tool: page_oncall, params: {alert: "${label.alertname}"}}
"#;

const WEBHOOK_JSON: &str = r#"{"version":"4","groupKey":"{}:{alertname=\"KubePodCrashLooping\"}",
"status":"firing","receiver":"inframind","groupLabels":{"alertname":"KubePodCrashLooping"},
"commonLabels":{},"commonAnnotations":{},"externalURL":"http://alertmanager:9093","alerts":[
{"status":"firing","labels":{"alertname":"KubePodCrashLooping","namespace":"shop","pod":"cart-1",
"severity":"warning"},"annotations":{},"startsAt":"2024-05-01T10:00:00Z",
"endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"2c7e5a8f1b3d4e60"}]}
"#;

const OOM_LOG: &str = "[ 42%] Building CXX object src/CMakeFiles/app.dir/big.cpp.o\n\
c++: fatal error: Killed signal terminated program cc1plus\n\
compilation terminated.\n\
make[2]: *** [src/CMakeFiles/app.dir/build.make:76: src/CMakeFiles/app.dir/big.cpp.o] Error 1\n";

fn run() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .ok_or("usage: fixtures DIR")?
        .into();
    std::fs::create_dir_all(&dir)?;
    let history = demo::demo_history("cmake", 120, 11);
    let model = DurationModel::train(&history, RandomForestParams::new().n_trees(24).seed(5))?;
    model.save(dir.join("model.imdm"))?;
    std::fs::write(dir.join("history.json"), serde_json::to_string(&history)?)?;
    let context = RunContext::for_tool("cmake");
    std::fs::write(dir.join("context.json"), serde_json::to_string(&context)?)?;
    let last = history.last().ok_or("empty demo history")?;
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string(&last.config)?,
    )?;
    let expected = model.predict(&context, &last.config, &history)?;
    // What the C side must get back, to the last bit (printed with round-trip precision).
    std::fs::write(
        dir.join("expected_prediction.txt"),
        format!("{:e} {:e}\n", expected.mean, expected.spread),
    )?;
    std::fs::write(dir.join("policies.yaml"), POLICIES_YAML)?;
    std::fs::write(dir.join("webhook.json"), WEBHOOK_JSON)?;
    std::fs::write(dir.join("oom.log"), OOM_LOG)?;
    Ok(dir)
}

fn main() -> ExitCode {
    match run() {
        Ok(dir) => {
            println!("fixtures written to {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fixtures: {e}");
            ExitCode::from(2)
        }
    }
}
