//! Log text as the classifier sees it: lines numbered from 1 and cut to a bounded length,
//! whether the log is in memory or streamed, with ANSI colours and timestamp prefixes removed and
//! progress-bar redraws split into what was once on screen.

use std::borrow::Cow;
use std::io::{self, BufRead};

/// Longest line examined; the rest of a longer line is skipped (minified JS, base64 blobs).
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// The lines of a log held in memory, numbered from 1, each cut to [`MAX_LINE_BYTES`].
pub(crate) fn lines(log: &str) -> impl Iterator<Item = (u64, &str)> {
    log.split('\n')
        .enumerate()
        .map(|(i, line)| (i as u64 + 1, cut(line)))
}

/// Reads a log line by line and hands each line, numbered from 1, to `each`. Memory stays bounded
/// whatever the log's size: invalid UTF-8 is replaced and overlong lines are cut at
/// [`MAX_LINE_BYTES`], exactly as [`lines`] cuts them.
pub(crate) fn read_lines<R: BufRead>(
    mut reader: R,
    mut each: impl FnMut(u64, &str),
) -> io::Result<()> {
    // Only a line that straddles two reads of the buffer is copied, into `pending`.
    let mut pending: Vec<u8> = Vec::new();
    let mut has_pending = false;
    let mut line_no = 0u64;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        let len = available.len();
        let mut start = 0;
        while let Some(pos) = memchr::memchr(b'\n', &available[start..]) {
            let line = &available[start..start + pos];
            line_no += 1;
            if has_pending {
                push_bounded(&mut pending, line);
                emit(&pending, line_no, &mut each);
                pending.clear();
                has_pending = false;
            } else {
                emit(line, line_no, &mut each);
            }
            start += pos + 1;
        }
        if start < len {
            push_bounded(&mut pending, &available[start..]);
            has_pending = true;
        }
        reader.consume(len);
    }
    if has_pending {
        line_no += 1;
        emit(&pending, line_no, &mut each);
    }
    Ok(())
}

fn emit(line: &[u8], line_no: u64, each: &mut impl FnMut(u64, &str)) {
    let line = cut_bytes(line);
    match std::str::from_utf8(line) {
        Ok(text) => each(line_no, text),
        Err(_) => each(line_no, &String::from_utf8_lossy(line)),
    }
}

/// The cleaned texts one raw line showed on screen: progress bars redraw with `\r`, so each
/// `\r`-separated segment was once a line of its own.
pub(crate) fn screens(raw: &str) -> impl Iterator<Item = Cow<'_, str>> {
    let raw = raw.strip_suffix('\r').unwrap_or(raw);
    raw.split('\r').map(clean_line)
}

/// Appends to a pending partial line, keeping at most [`MAX_LINE_BYTES`] of it.
fn push_bounded(pending: &mut Vec<u8>, bytes: &[u8]) {
    let room = MAX_LINE_BYTES.saturating_sub(pending.len());
    pending.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// Cuts a line of bytes to [`MAX_LINE_BYTES`], backing off to a UTF-8 character boundary so the
/// streaming path sees the same text as the in-memory one.
fn cut_bytes(line: &[u8]) -> &[u8] {
    if line.len() <= MAX_LINE_BYTES {
        return line;
    }
    let mut end = MAX_LINE_BYTES;
    while end > 0 && (line[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    &line[..end]
}

/// Cuts a line to [`MAX_LINE_BYTES`] at a character boundary.
fn cut(line: &str) -> &str {
    if line.len() <= MAX_LINE_BYTES {
        return line;
    }
    let mut end = MAX_LINE_BYTES;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// Removes ANSI escape sequences and a leading timestamp.
fn clean_line(line: &str) -> Cow<'_, str> {
    let stripped: Cow<'_, str> = if line.contains('\x1b') {
        Cow::Owned(strip_ansi(line))
    } else {
        Cow::Borrowed(line)
    };
    let start = timestamp_prefix_len(&stripped);
    if start == 0 {
        stripped
    } else {
        match stripped {
            Cow::Borrowed(s) => Cow::Borrowed(&s[start..]),
            Cow::Owned(s) => Cow::Owned(s[start..].to_string()),
        }
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('[') => {
                chars.next();
                // CSI: parameters and intermediates, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                chars.next();
                // OSC: until BEL or ESC \.
                while let Some(c) = chars.next() {
                    if c == '\x07' {
                        break;
                    }
                    if c == '\x1b' {
                        if chars.peek() == Some(&'\\') {
                            chars.next();
                        }
                        break;
                    }
                }
            }
            Some(_) => {
                chars.next();
            }
            None => {}
        }
    }
    out
}

/// Length of a leading timestamp such as `2024-05-01T10:00:00.1234567Z `, `[2024-05-01T10:00:00.123Z] `,
/// `[10:00:00] `, `10:00:00.123 ` or `2024-05-01 10:00:00,123 `.
fn timestamp_prefix_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    let bracket = b.first() == Some(&b'[');
    if bracket {
        i = 1;
    }
    let digits =
        |i: usize, n: usize| b.len() >= i + n && b[i..i + n].iter().all(u8::is_ascii_digit);
    let start = i;
    // Optional date YYYY-MM-DD followed by 'T' or ' '.
    if digits(i, 4)
        && b.get(i + 4) == Some(&b'-')
        && digits(i + 5, 2)
        && b.get(i + 7) == Some(&b'-')
        && digits(i + 8, 2)
    {
        i += 10;
        match b.get(i) {
            Some(b'T') | Some(b' ') => i += 1,
            _ => return 0,
        }
    }
    // Time HH:MM:SS.
    if !(digits(i, 2)
        && b.get(i + 2) == Some(&b':')
        && digits(i + 3, 2)
        && b.get(i + 5) == Some(&b':')
        && digits(i + 6, 2))
    {
        return 0;
    }
    i += 8;
    // Fraction.
    if matches!(b.get(i), Some(b'.') | Some(b',')) {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    // Zone.
    match b.get(i) {
        Some(b'Z') => i += 1,
        Some(b'+') | Some(b'-') if digits(i + 1, 2) => {
            i += 3;
            if b.get(i) == Some(&b':') {
                i += 1;
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => {}
    }
    if bracket {
        if b.get(i) != Some(&b']') {
            return 0;
        }
        i += 1;
    }
    if i == start {
        return 0;
    }
    // The timestamp must be followed by whitespace or the end of the line.
    match b.get(i) {
        None => i,
        Some(b' ') | Some(b'\t') => {
            while matches!(b.get(i), Some(b' ') | Some(b'\t')) {
                i += 1;
            }
            i
        }
        _ => 0,
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ansi_and_timestamps() {
        assert_eq!(
            clean_line("2024-01-15T10:23:45.1234567Z \x1b[1;31merror\x1b[0m: boom"),
            "error: boom"
        );
        assert_eq!(
            clean_line("[2024-01-15T10:23:45.123Z] npm ERR! x"),
            "npm ERR! x"
        );
        assert_eq!(clean_line("[10:23:45] x"), "x");
        assert_eq!(clean_line("10:23:45.120 x"), "x");
        assert_eq!(clean_line("2024-01-15 10:23:45,123 ERROR x"), "ERROR x");
        assert_eq!(clean_line("2024-01-15T10:23:45+02:00 x"), "x");
        assert_eq!(clean_line("\x1b]8;;http://x\x07link\x1b]8;;\x07"), "link");
        // Not timestamps.
        assert_eq!(clean_line("12:30:00abc"), "12:30:00abc");
        assert_eq!(
            clean_line("src/main.c:12:5: error: x"),
            "src/main.c:12:5: error: x"
        );
    }
}
