//! Prometheus text exposition (format 0.0.4) of a [`Snapshot`].

use std::fmt::Write as _;

use super::Snapshot;

/// A sample value: counts stay exact integers, the rest print as floats.
#[derive(Debug, Clone, Copy)]
enum Value {
    Int(u64),
    Float(f64),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) if v.is_nan() => f.write_str("NaN"),
            Value::Float(v) if v == f64::INFINITY => f.write_str("+Inf"),
            Value::Float(v) if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            Value::Float(v) => write!(f, "{v}"),
        }
    }
}

/// Escapes a label value: backslash, double quote and line feed, as the format requires.
pub(crate) fn escape_label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes HELP text: backslash and line feed.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

struct Writer {
    out: String,
}

impl Writer {
    /// One metric family: HELP, TYPE and its samples. A family without samples is left out.
    fn family(&mut self, name: &str, kind: &str, help: &str, samples: &[(&[(&str, &str)], Value)]) {
        if samples.is_empty() {
            return;
        }
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            self.out.push_str(name);
            if !labels.is_empty() {
                self.out.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    let _ = write!(self.out, "{k}=\"{}\"", escape_label_value(v));
                }
                self.out.push('}');
            }
            let _ = writeln!(self.out, " {value}");
        }
    }
}

pub(crate) fn render(s: &Snapshot) -> String {
    let mut w = Writer {
        out: String::with_capacity(4096),
    };
    let sys = &s.system;
    let none: &[(&str, &str)] = &[];
    w.family(
        "im_cpu_usage_ratio",
        "gauge",
        "Busy share of all CPU cores since the previous sample (0..1).",
        &[(none, Value::Float(sys.cpu_usage_ratio))],
    );
    w.family(
        "im_cpu_seconds_total",
        "counter",
        "Busy CPU seconds since boot, summed over all cores.",
        &[(none, Value::Float(sys.cpu_seconds_total))],
    );
    w.family(
        "im_mem_used_bytes",
        "gauge",
        "Memory in use (MemTotal - MemAvailable), in bytes.",
        &[(none, Value::Int(sys.mem_used_bytes))],
    );
    w.family(
        "im_mem_total_bytes",
        "gauge",
        "Total usable memory (MemTotal), in bytes.",
        &[(none, Value::Int(sys.mem_total_bytes))],
    );
    w.family(
        "im_io_read_bytes_total",
        "counter",
        "Bytes read from whole physical disks since boot.",
        &[(none, Value::Int(sys.io_read_bytes_total))],
    );
    w.family(
        "im_io_write_bytes_total",
        "counter",
        "Bytes written to whole physical disks since boot.",
        &[(none, Value::Int(sys.io_write_bytes_total))],
    );

    if let Some(t) = &s.tree {
        let pid = t.root_pid.to_string();
        let l: &[(&str, &str)] = &[("pid", pid.as_str())];
        w.family(
            "im_build_processes",
            "gauge",
            "Live processes in the watched build's process tree.",
            &[(l, Value::Int(u64::from(t.processes)))],
        );
        w.family(
            "im_build_cpu_seconds_total",
            "counter",
            "CPU seconds (user + system) used by the build's process tree, exited members included.",
            &[(l, Value::Float(t.cpu_seconds_total))],
        );
        w.family(
            "im_build_rss_bytes",
            "gauge",
            "Resident memory of the build's live processes, summed, in bytes.",
            &[(l, Value::Int(t.rss_bytes))],
        );
        w.family(
            "im_build_peak_rss_bytes",
            "gauge",
            "Largest summed resident memory of the build's process tree seen so far, in bytes.",
            &[(l, Value::Int(t.peak_rss_bytes))],
        );
        w.family(
            "im_build_io_read_bytes_total",
            "counter",
            "Bytes the build's process tree caused to be read from storage.",
            &[(l, Value::Int(t.io_read_bytes_total))],
        );
        w.family(
            "im_build_io_write_bytes_total",
            "counter",
            "Bytes the build's process tree caused to be written to storage.",
            &[(l, Value::Int(t.io_write_bytes_total))],
        );
    }

    let tools: Vec<[(&str, &str); 1]> = s
        .caches
        .iter()
        .map(|c| [("tool", c.tool.as_str())])
        .collect();
    let hits: Vec<(&[(&str, &str)], Value)> = s
        .caches
        .iter()
        .zip(&tools)
        .map(|(c, l)| (&l[..], Value::Int(c.hits)))
        .collect();
    let misses: Vec<(&[(&str, &str)], Value)> = s
        .caches
        .iter()
        .zip(&tools)
        .map(|(c, l)| (&l[..], Value::Int(c.misses)))
        .collect();
    let ratios: Vec<(&[(&str, &str)], Value)> = s
        .caches
        .iter()
        .zip(&tools)
        .filter_map(|(c, l)| c.hit_ratio().map(|r| (&l[..], Value::Float(r))))
        .collect();
    w.family(
        "im_cache_hits_total",
        "counter",
        "Compilations answered from the compiler cache.",
        &hits,
    );
    w.family(
        "im_cache_misses_total",
        "counter",
        "Cacheable compilations that were not in the compiler cache.",
        &misses,
    );
    w.family(
        "im_cache_hit_ratio",
        "gauge",
        "Compiler cache hits / (hits + misses), 0..1; absent before the first cacheable compilation.",
        &ratios,
    );
    w.family(
        "im_build_info",
        "gauge",
        "Version of the inframind library that produced these metrics; always 1.",
        &[(&[("version", env!("CARGO_PKG_VERSION"))], Value::Int(1))],
    );
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label_value(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label_value("x\ny"), "x\\ny");
        assert_eq!(escape_label_value("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn special_floats_use_the_format_spelling() {
        assert_eq!(Value::Float(f64::NAN).to_string(), "NaN");
        assert_eq!(Value::Float(f64::INFINITY).to_string(), "+Inf");
        assert_eq!(Value::Float(f64::NEG_INFINITY).to_string(), "-Inf");
        assert_eq!(Value::Float(0.25).to_string(), "0.25");
        assert_eq!(Value::Int(u64::MAX).to_string(), "18446744073709551615");
    }

    #[test]
    fn family_writes_help_type_and_labelled_samples() {
        let mut w = Writer { out: String::new() };
        w.family(
            "im_x_total",
            "counter",
            "Help with a \\ and\na newline.",
            &[(&[("tool", "cc\"ache"), ("k", "v")], Value::Int(3))],
        );
        assert_eq!(
            w.out,
            "# HELP im_x_total Help with a \\\\ and\\na newline.\n# TYPE im_x_total counter\n\
             im_x_total{tool=\"cc\\\"ache\",k=\"v\"} 3\n"
        );
        let mut empty = Writer { out: String::new() };
        empty.family("im_y", "gauge", "nothing", &[]);
        assert!(empty.out.is_empty());
    }
}
