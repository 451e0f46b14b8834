//! The input rules every host applies: names, durations and plausible ranges.
//!
//! A value that passes these rules can be stored, trained on and predicted with: every limit
//! here keeps a value exactly representable in the model's `f32` features and in a database's
//! signed 64-bit integers. The hosts (server, C ABI, Python, command line) call these instead of
//! writing their own checks, so a value one host accepts is never refused by another.
//!
//! ```
//! use inframind_core::rules;
//! assert!(rules::check_name("pipeline", "team/app").is_ok());
//! let e = rules::check_name("pipeline", "  ").unwrap_err();
//! assert_eq!(e.to_string(), r#"invalid pipeline = "  ": must not be blank"#);
//! let e = rules::check_cpu_cores("config.cpu_cores", 1e39).unwrap_err();
//! assert_eq!(e.field(), Some("config.cpu_cores"));
//! ```

use crate::error::{Error, Result};

/// Longest pipeline name, run id, tool, step name or label accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 512;

/// Longest duration accepted, in seconds (a year): longer is a unit error (milliseconds sent
/// as seconds) or a clock gone wrong, and would dominate any model trained on it.
pub const MAX_DURATION_S: f64 = 366.0 * 24.0 * 3600.0;

/// Most CPU cores a config or capacity may name.
pub const MAX_CPU_CORES: f64 = 65_536.0;

/// Most parallel jobs a config may name.
pub const MAX_CONCURRENCY: u32 = 65_536;

/// Largest byte count accepted (memory, RSS, I/O): 2^53 bytes (8 PiB), exact in an `f64` and
/// well inside a database's signed 64-bit integer.
pub const MAX_BYTES: u64 = 1 << 53;

/// A name (pipeline, run id, tool, step, label): not blank, at most [`MAX_NAME_BYTES`] bytes,
/// no NUL byte (databases and C strings cannot hold one).
pub fn check_name(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid_field(
            field,
            format!("{value:?}"),
            "must not be blank",
        ));
    }
    if value.len() > MAX_NAME_BYTES {
        return Err(Error::invalid_field(
            field,
            format!("<{} bytes>", value.len()),
            format!("must be at most {MAX_NAME_BYTES} bytes long"),
        ));
    }
    if value.contains('\0') {
        return Err(Error::invalid_field(
            field,
            format!("{value:?}"),
            "must not contain a NUL byte",
        ));
    }
    Ok(())
}

/// Whether `v` is a duration [`check_duration`] accepts (for hot paths that only format an
/// error when it is not).
pub fn is_duration(v: f64) -> bool {
    v.is_finite() && (0.0..=MAX_DURATION_S).contains(&v)
}

/// A duration in seconds: finite, 0 or more, at most [`MAX_DURATION_S`].
pub fn check_duration(field: &str, v: f64) -> Result<()> {
    if !v.is_finite() || v < 0.0 {
        return Err(Error::invalid_field(
            field,
            v,
            "must be a finite number of seconds, 0 or more",
        ));
    }
    if v > MAX_DURATION_S {
        return Err(Error::invalid_field(
            field,
            v,
            format!(
                "must be at most {MAX_DURATION_S} seconds (a year); was it sent in milliseconds?"
            ),
        ));
    }
    Ok(())
}

/// A number of CPU cores: finite, above 0, at most [`MAX_CPU_CORES`].
pub fn check_cpu_cores(field: &str, v: f64) -> Result<()> {
    if !v.is_finite() || v <= 0.0 {
        return Err(Error::invalid_field(
            field,
            v,
            "must be a finite number of cores above 0",
        ));
    }
    if v > MAX_CPU_CORES {
        return Err(Error::invalid_field(
            field,
            v,
            format!("must be at most {MAX_CPU_CORES} cores"),
        ));
    }
    Ok(())
}

/// A number of parallel jobs: 1 to [`MAX_CONCURRENCY`].
pub fn check_concurrency(field: &str, v: u32) -> Result<()> {
    if v == 0 {
        return Err(Error::invalid_field(
            field,
            0,
            "must be at least 1 parallel job",
        ));
    }
    if v > MAX_CONCURRENCY {
        return Err(Error::invalid_field(
            field,
            v,
            format!("must be at most {MAX_CONCURRENCY} parallel jobs"),
        ));
    }
    Ok(())
}

/// A byte count: at most [`MAX_BYTES`]; with `positive`, also above 0.
pub fn check_bytes(field: &str, v: u64, positive: bool) -> Result<()> {
    if positive && v == 0 {
        return Err(Error::invalid_field(field, 0, "must be above 0 bytes"));
    }
    if v > MAX_BYTES {
        return Err(Error::invalid_field(
            field,
            v,
            format!("must be at most {MAX_BYTES} bytes (8 PiB)"),
        ));
    }
    Ok(())
}

/// Seconds of CPU time: finite, 0 or more, at most [`MAX_DURATION_S`] × [`MAX_CPU_CORES`].
pub fn check_cpu_seconds(field: &str, v: f64) -> Result<()> {
    if !v.is_finite() || !(0.0..=MAX_DURATION_S * MAX_CPU_CORES).contains(&v) {
        return Err(Error::invalid_field(
            field,
            v,
            "must be a finite number of seconds, 0 or more",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_for_blank_length_and_nul() {
        assert!(check_name("run_id", "a").is_ok());
        assert!(check_name("run_id", &"x".repeat(MAX_NAME_BYTES)).is_ok());
        let long = check_name("run_id", &"x".repeat(MAX_NAME_BYTES + 1)).unwrap_err();
        assert_eq!(
            long.to_string(),
            "invalid run_id = <513 bytes>: must be at most 512 bytes long"
        );
        let nul = check_name("tool", "ma\0ke").unwrap_err();
        assert_eq!(nul.field(), Some("tool"));
        assert!(nul.to_string().contains("NUL"), "{nul}");
        assert!(check_name("tool", "\t").is_err());
    }

    #[test]
    fn limits_are_inclusive_and_one_past_is_refused() {
        assert!(check_duration("d", MAX_DURATION_S).is_ok());
        assert!(check_duration("d", MAX_DURATION_S * 1.000_001).is_err());
        assert!(check_duration("d", -0.0).is_ok());
        assert!(check_duration("d", -1e-9).is_err());
        assert!(check_cpu_cores("c", MAX_CPU_CORES).is_ok());
        assert!(check_cpu_cores("c", 1e39).is_err());
        assert!(check_cpu_cores("c", 0.0).is_err());
        assert!(check_concurrency("j", MAX_CONCURRENCY).is_ok());
        assert!(check_concurrency("j", MAX_CONCURRENCY + 1).is_err());
        assert!(check_concurrency("j", 0).is_err());
        assert!(check_bytes("b", MAX_BYTES, true).is_ok());
        assert!(check_bytes("b", MAX_BYTES + 1, false).is_err());
        assert!(check_bytes("b", 0, false).is_ok());
        assert!(check_bytes("b", 0, true).is_err());
    }

    #[test]
    fn every_accepted_value_survives_f32() {
        // The model's features are f32: a value the rules accept must stay finite there.
        for v in [
            MAX_DURATION_S,
            MAX_CPU_CORES,
            MAX_BYTES as f64,
            MAX_DURATION_S * MAX_CPU_CORES,
        ] {
            assert!((v as f32).is_finite(), "{v}");
        }
    }
}
