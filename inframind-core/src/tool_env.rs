//! Environment variables that make a build tool use a [`BuildConfig`].
//!
//! A suggestion only speeds a build up if the tool actually runs with it. Every host (the
//! server's `/optimize` answer, the Jenkins steps, the Python wheel, the C ABI) exports the same
//! variables, so the mapping lives here, once.
//!
//! Three variables are always set, for scripts that read the config themselves:
//! `INFRAMIND_CONCURRENCY` (jobs), `INFRAMIND_CPU_CORES` (cores, as a decimal) and
//! `INFRAMIND_MEMORY_MB` (MiB, rounded down). Then, by tool (matched case-insensitively):
//!
//! | tool | variables |
//! |---|---|
//! | `make`, `cmake`, `ninja` | `MAKEFLAGS=-jN`, `CMAKE_BUILD_PARALLEL_LEVEL=N` |
//! | `cargo` | `CARGO_BUILD_JOBS=N` |
//! | `npm`, `yarn`, `pnpm` | `npm_config_jobs=N` |
//! | `gradle` | `GRADLE_OPTS=-Dorg.gradle.workers.max=N -Dorg.gradle.jvmargs=-Xmx…m` |
//! | `maven`, `mvn` | `MAVEN_ARGS=-T N` (read by Maven 3.9 and later) |
//! | `bazel` | `INFRAMIND_BAZEL_FLAGS=--jobs=N --local_cpu_resources=C --local_ram_resources=M` (Bazel reads no variable: pass it on the command line) |
//! | `go` | `GOFLAGS=-p=N`, `GOMAXPROCS=ceil(cores)` |
//!
//! Gradle's JVM heap gets 3/4 of the memory, leaving the rest to its worker processes and the
//! Kotlin daemon. An unknown tool gets the three `INFRAMIND_*` variables only.
//!
//! ```
//! use inframind_core::{tool_env::env_for, BuildConfig};
//!
//! let config = BuildConfig { concurrency: 6, cpu_cores: 4.5, memory_bytes: 8 << 30 };
//! let env = env_for("cmake", &config);
//! assert_eq!(env["MAKEFLAGS"], "-j6");
//! assert_eq!(env["CMAKE_BUILD_PARALLEL_LEVEL"], "6");
//! assert_eq!(env["INFRAMIND_MEMORY_MB"], "8192");
//! assert_eq!(env["INFRAMIND_CPU_CORES"], "4.5");
//! ```

use std::collections::BTreeMap;

use crate::telemetry::BuildConfig;

const MIB: u64 = 1024 * 1024;

/// The variables that make `tool` run with `config`, by name (see the module docs).
pub fn env_for(tool: &str, config: &BuildConfig) -> BTreeMap<String, String> {
    let jobs = config.concurrency.max(1);
    let memory_mb = config.memory_bytes / MIB;
    let cores = format_cores(config.cpu_cores);
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_owned(), v);
    };
    set("INFRAMIND_CONCURRENCY", jobs.to_string());
    set("INFRAMIND_CPU_CORES", cores.clone());
    set("INFRAMIND_MEMORY_MB", memory_mb.to_string());
    match tool.to_ascii_lowercase().as_str() {
        "make" | "cmake" | "ninja" => {
            set("MAKEFLAGS", format!("-j{jobs}"));
            set("CMAKE_BUILD_PARALLEL_LEVEL", jobs.to_string());
        }
        "cargo" => set("CARGO_BUILD_JOBS", jobs.to_string()),
        "npm" | "yarn" | "pnpm" => set("npm_config_jobs", jobs.to_string()),
        "gradle" => set(
            "GRADLE_OPTS",
            format!(
                "-Dorg.gradle.workers.max={jobs} -Dorg.gradle.jvmargs=-Xmx{}m",
                (memory_mb * 3 / 4).max(256)
            ),
        ),
        "maven" | "mvn" => set("MAVEN_ARGS", format!("-T {jobs}")),
        "bazel" => set(
            "INFRAMIND_BAZEL_FLAGS",
            format!(
                "--jobs={jobs} --local_cpu_resources={cores} --local_ram_resources={memory_mb}"
            ),
        ),
        "go" => {
            set("GOFLAGS", format!("-p={jobs}"));
            let procs = config.cpu_cores.ceil();
            let procs = if procs.is_finite() && procs >= 1.0 {
                procs as u64
            } else {
                1
            };
            set("GOMAXPROCS", procs.to_string());
        }
        _ => {}
    }
    env
}

/// Cores as a short decimal: `4`, `4.5`, `0.25` (never `4.500000001`).
fn format_cores(cores: f64) -> String {
    let rounded = (cores * 1000.0).round() / 1000.0;
    let text = format!("{rounded:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(concurrency: u32, cpu_cores: f64, memory_bytes: u64) -> BuildConfig {
        BuildConfig {
            concurrency,
            cpu_cores,
            memory_bytes,
        }
    }

    #[test]
    fn every_tool_gets_the_three_inframind_variables() {
        for tool in [
            "cmake", "bazel", "gradle", "npm", "cargo", "go", "maven", "scons",
        ] {
            let env = env_for(tool, &config(3, 2.0, 3 * 1024 * MIB));
            assert_eq!(env["INFRAMIND_CONCURRENCY"], "3", "{tool}");
            assert_eq!(env["INFRAMIND_CPU_CORES"], "2", "{tool}");
            assert_eq!(env["INFRAMIND_MEMORY_MB"], "3072", "{tool}");
        }
    }

    #[test]
    fn unknown_tool_gets_nothing_tool_specific() {
        assert_eq!(env_for("scons", &config(3, 2.0, 1 << 30)).len(), 3);
    }

    #[test]
    fn tool_names_are_case_insensitive() {
        assert_eq!(
            env_for("Cargo", &config(7, 2.0, 1 << 30))["CARGO_BUILD_JOBS"],
            "7"
        );
    }

    #[test]
    fn gradle_heap_is_three_quarters_of_memory_with_a_floor() {
        let env = env_for("gradle", &config(4, 2.0, 8 << 30));
        assert_eq!(
            env["GRADLE_OPTS"],
            "-Dorg.gradle.workers.max=4 -Dorg.gradle.jvmargs=-Xmx6144m"
        );
        let env = env_for("gradle", &config(1, 1.0, 100 * MIB));
        assert!(env["GRADLE_OPTS"].ends_with("-Xmx256m"));
    }

    #[test]
    fn bazel_and_go_carry_cores_and_memory() {
        let env = env_for("bazel", &config(5, 3.25, 4 << 30));
        assert_eq!(
            env["INFRAMIND_BAZEL_FLAGS"],
            "--jobs=5 --local_cpu_resources=3.25 --local_ram_resources=4096"
        );
        let env = env_for("go", &config(5, 3.25, 4 << 30));
        assert_eq!(env["GOFLAGS"], "-p=5");
        assert_eq!(env["GOMAXPROCS"], "4");
    }

    #[test]
    fn cores_print_short() {
        assert_eq!(format_cores(4.0), "4");
        assert_eq!(format_cores(4.5), "4.5");
        assert_eq!(format_cores(0.25), "0.25");
        assert_eq!(format_cores(4.500_000_001), "4.5");
    }
}
