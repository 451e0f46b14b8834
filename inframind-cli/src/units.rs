//! Memory sizes as people write them: `16GiB`, `512MiB`, `16G`, `1.5Gi`, `2GB`.

use crate::failure::{Failure, Result};

/// Parses a memory size into bytes.
///
/// Binary units (`Ki`, `Mi`, `Gi`, `Ti`, with or without a trailing `B`) are powers of 1024, and
/// so are the bare letters (`16G`), as in `docker --memory` and `ulimit`: a runner with "16 GB"
/// has 16 GiB. Decimal units are spelled `KB`, `MB`, `GB`, `TB`. A bare number is bytes.
pub(crate) fn parse_bytes(text: &str) -> Result<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let bad = || {
        Failure::input(format!(
            "invalid memory size {text:?}: use a number with a unit such as 16GiB, 512MiB or 16G"
        ))
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "ki" | "kib" => 1024.0,
        "m" | "mi" | "mib" => 1024.0 * 1024.0,
        "g" | "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "ti" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        _ => return Err(bad()),
    };
    let bytes = (value * factor).round();
    if !bytes.is_finite() || bytes < 1.0 || bytes > inframind_core::rules::MAX_BYTES as f64 {
        return Err(Failure::input(format!(
            "invalid memory size {text:?}: must be at least 1 byte and at most 8PiB"
        )));
    }
    Ok(bytes as u64)
}

/// Bytes as a short binary size: `16GiB`, `1.5GiB`, `512MiB`.
pub(crate) fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_spellings_parse() {
        assert_eq!(parse_bytes("16GiB").unwrap(), 16 << 30);
        assert_eq!(parse_bytes("16G").unwrap(), 16 << 30);
        assert_eq!(parse_bytes("16Gi").unwrap(), 16 << 30);
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("2GB").unwrap(), 2_000_000_000);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in ["", "GiB", "16XB", "-1G", "0", "1e3G", "99999999TiB"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn format_then_parse_is_the_same_size() {
        for bytes in [1u64 << 30, 16 << 30, 512 << 20, 3 << 29, 7 << 10] {
            assert_eq!(parse_bytes(&format_bytes(bytes)).unwrap(), bytes);
        }
        assert_eq!(format_bytes(16 << 30), "16GiB");
    }
}
