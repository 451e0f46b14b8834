//! Tables for people and CSV for spreadsheets, from the same rows.

use std::io::{IsTerminal, Write};

use crate::failure::{Failure, Result};

/// Rows under a header, printed as aligned columns or CSV.
#[derive(Debug, Default)]
pub(crate) struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(header: Vec<&'static str>) -> Self {
        Table {
            header,
            rows: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// Aligned columns, two spaces apart; the header in bold only on a terminal that accepts
    /// colour (`NO_COLOR` unset), so pipes and files get plain text.
    pub(crate) fn to_text(&self, styled: bool) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let padded: Vec<String> = cells
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            padded.join("  ").trim_end().to_owned()
        };
        let mut out = String::new();
        let header = line(&mut self.header.iter().copied());
        if styled {
            out.push_str(&format!("\x1b[1m{header}\x1b[0m\n"));
        } else {
            out.push_str(&header);
            out.push('\n');
        }
        for row in &self.rows {
            out.push_str(&line(&mut row.iter().map(String::as_str)));
            out.push('\n');
        }
        out
    }

    /// RFC 4180 CSV with a header row.
    pub(crate) fn to_csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.header.iter().map(|h| csv_field(h)).collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|c| csv_field(c)).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// `name  value` lines with the values aligned.
pub(crate) fn pairs(rows: &[(&str, String)]) -> String {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}  {v}").trim_end().to_owned() + "\n")
        .collect()
}

/// Whether standard output may carry colour.
pub(crate) fn stdout_styled() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Writes `text` to standard output; a closed pipe (`| head`) ends quietly.
pub(crate) fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::io("write", std::path::Path::new("<stdout>"), e)),
    }
}

/// Pretty JSON followed by a newline.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| Failure::input(format!("cannot render JSON: {e}")))
}

/// Seconds as people read them: `42.0s`, `3m07s`, `1h02m`.
pub(crate) fn seconds(s: f64) -> String {
    let sign = if s < 0.0 { "-" } else { "" };
    let a = s.abs();
    if a < 60.0 {
        format!("{sign}{a:.1}s")
    } else if a < 3600.0 {
        let m = (a / 60.0).floor();
        format!("{sign}{m:.0}m{:02.0}s", (a - m * 60.0).floor())
    } else {
        let h = (a / 3600.0).floor();
        format!("{sign}{h:.0}h{:02.0}m", ((a - h * 3600.0) / 60.0).floor())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_aligns_and_csv_quotes() {
        let mut t = Table::new(vec!["A", "LONGER"]);
        t.push(vec!["x,y".into(), "1".into()]);
        assert_eq!(t.to_text(false), "A    LONGER\nx,y  1\n");
        assert_eq!(t.to_csv(), "A,LONGER\n\"x,y\",1\n");
    }

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(seconds(42.04), "42.0s");
        assert_eq!(seconds(187.0), "3m07s");
        assert_eq!(seconds(-3720.0), "-1h02m");
    }
}
