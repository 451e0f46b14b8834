//! The runner catalogue: what a `runs-on` label means in cores and memory.

use std::collections::BTreeMap;
use std::path::Path;

use inframind_core::BuildConfig;
use serde::Deserialize;

use crate::failure::{Failure, Result};
use crate::units::parse_bytes;

/// GitHub's published hosted-runner sizes (see the file for its source and date).
const GITHUB_HOSTED: &str = include_str!("github-hosted.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    runners: BTreeMap<String, Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    cpu_cores: f64,
    memory: String,
    concurrency: Option<u32>,
}

/// Runner labels (lower case: GitHub matches them case-insensitively) to the config a job on
/// that runner had.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalogue {
    runners: BTreeMap<String, BuildConfig>,
}

impl Catalogue {
    /// The built-in GitHub-hosted sizes, overridden and extended by `extra` when given.
    pub(crate) fn github(extra: Option<&Path>) -> Result<Self> {
        let mut c = Catalogue::default();
        c.merge(GITHUB_HOSTED, "built-in catalogue")?;
        if let Some(path) = extra {
            let text = std::fs::read_to_string(path).map_err(|e| Failure::io("read", path, e))?;
            c.merge(&text, &path.display().to_string())?;
        }
        Ok(c)
    }

    fn merge(&mut self, text: &str, origin: &str) -> Result<()> {
        let file: File = toml::from_str(text)
            .map_err(|e| Failure::input(format!("{origin}: {}", e.message())))?;
        for (label, e) in file.runners {
            let memory_bytes = parse_bytes(&e.memory)
                .map_err(|f| f.context(format!("{origin}: runners.{label}.memory")))?;
            let concurrency = e
                .concurrency
                .unwrap_or_else(|| (e.cpu_cores.ceil().max(1.0).min(f64::from(u32::MAX))) as u32);
            let config = BuildConfig {
                concurrency,
                cpu_cores: e.cpu_cores,
                memory_bytes,
            };
            // The core's rules decide what a valid config is.
            config
                .validate(&format!("runners.{label}"))
                .map_err(|err| Failure::from(err).context(origin))?;
            self.runners.insert(label.to_ascii_lowercase(), config);
        }
        Ok(())
    }

    /// The config of the first label with an entry.
    pub(crate) fn lookup(&self, labels: &[String]) -> Option<BuildConfig> {
        labels
            .iter()
            .find_map(|l| self.runners.get(&l.to_ascii_lowercase()).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_sizes_load_and_a_file_overrides_them() {
        let c = Catalogue::github(None).unwrap();
        let ubuntu = c.lookup(&["Ubuntu-Latest".into()]).unwrap();
        assert_eq!((ubuntu.concurrency, ubuntu.cpu_cores), (4, 4.0));
        assert_eq!(ubuntu.memory_bytes, 16 << 30);
        assert!(c.lookup(&["self-hosted".into()]).is_none());
        let mut c = c;
        c.merge(
            "[runners.ubuntu-latest]\ncpu_cores = 2\nmemory = \"7GiB\"\nconcurrency = 3\n",
            "x",
        )
        .unwrap();
        let ubuntu = c.lookup(&["ubuntu-latest".into()]).unwrap();
        assert_eq!((ubuntu.concurrency, ubuntu.memory_bytes), (3, 7 << 30));
    }

    #[test]
    fn a_bad_entry_names_the_file_and_the_field() {
        let mut c = Catalogue::default();
        let e = c
            .merge("[runners.big]\ncpu_cores = 0\nmemory = \"1G\"\n", "r.toml")
            .unwrap_err();
        assert_eq!(
            e.message,
            "r.toml: invalid runners.big.cpu_cores = 0: must be a finite number of cores above 0"
        );
        let e = c
            .merge("[runners.big]\ncpu_cores = 1\n", "r.toml")
            .unwrap_err();
        assert!(
            e.message.starts_with("r.toml: missing field `memory`"),
            "{}",
            e.message
        );
    }
}
