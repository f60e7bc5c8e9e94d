//! Helpers shared by the parsers: Ceph timestamps, log-line detection, lenient JSON scalars.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};

use super::ParseError;

/// An `<id> (<name>)` pair as printed in text headers (`zone <id> (<name>)`).
///
/// `name` may be empty: a single-site cluster prints `realm  ()`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamedId {
    pub id: String,
    pub name: String,
}

impl NamedId {
    /// Parses `<id> (<name>)`, `<id>`, `(<name>)` or ` ()`; `None` when nothing is there.
    pub fn parse(s: &str) -> Option<NamedId> {
        let (id, name) = split_id_name(s)?;
        Some(NamedId {
            id: id.to_string(),
            name: name.unwrap_or_default().to_string(),
        })
    }
}

/// Splits `<id> (<name>)` into its parts; the name is `None` when there are no parentheses.
///
/// Ids never contain spaces, names might, so the split is at the first whitespace and the
/// name is whatever sits between the first `(` after it and the last `)`.
pub(crate) fn split_id_name(s: &str) -> Option<(&str, Option<&str>)> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(name) = parenthesised(s) {
        // `realm  ()` on a single-site cluster: no id at all.
        return Some(("", Some(name)));
    }
    match s.split_once(char::is_whitespace) {
        None => Some((s, None)),
        Some((id, rest)) => Some((id, parenthesised(rest.trim()))),
    }
}

fn parenthesised(s: &str) -> Option<&str> {
    s.strip_prefix('(')?.strip_suffix(')')
}

/// True for a Ceph log line (`2024-04-18T13:15:16.957+0000 7ffb3d16f880  0 ERROR: ...`).
///
/// Such lines reach stdout when a caller merges stderr into it; parsers skip and count them.
/// The shape checked is: an ISO date-time token, a hex thread id, an integer log level.
pub fn is_log_line(line: &str) -> bool {
    let mut tokens = line.split_ascii_whitespace();
    let (Some(stamp), Some(thread), Some(level)) = (tokens.next(), tokens.next(), tokens.next())
    else {
        return false;
    };
    let b = stamp.as_bytes();
    let date_ok = b.len() > 11
        && b.iter().take(4).all(u8::is_ascii_digit)
        && b.get(4) == Some(&b'-')
        && b.get(5..7)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        && b.get(7) == Some(&b'-')
        && b.get(8..10)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        && b.get(10) == Some(&b'T');
    let level = level.strip_prefix('-').unwrap_or(level);
    date_ok
        && thread.bytes().all(|c| c.is_ascii_hexdigit())
        && !level.is_empty()
        && level.bytes().all(|c| c.is_ascii_digit())
}

/// A JSON boolean that Pacific/Quincy print as `"true"`/`"false"` and Reef+ as `true`/`false`.
pub fn json_bool(v: &serde_json::Value) -> Option<bool> {
    match v {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::String(s) => bool_word(s),
        _ => None,
    }
}

fn bool_word(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Parses a text shard set such as `[1,2,71]` (`[]` gives an empty list).
pub fn parse_shard_set(s: &str) -> Option<Vec<u32>> {
    let inner = s.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
    if inner.is_empty() {
        return Some(Vec::new());
    }
    inner.split(',').map(|n| n.trim().parse().ok()).collect()
}

/// Parses `X/Y` (as in `full sync: X/Y shards`).
pub(crate) fn parse_fraction(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.trim().split_once('/')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// Stores `v` in `slot` when present; says whether it was (a line was understood).
pub(crate) fn set_if<T>(slot: &mut T, v: Option<T>) -> bool {
    match v {
        Some(v) => {
            *slot = v;
            true
        }
        None => false,
    }
}

/// Parses a Ceph timestamp into unix seconds.
///
/// Accepted: `2026-11-21T22:38:33.555815+0000` (text, local time with offset),
/// `2026-11-21T22:37:41.518646Z` (JSON), `2024-03-20T07:03:00Z` (`current time`), a space
/// instead of `T` (pre-Octopus JSON), `+hh:mm` / `+hh` offsets, no zone at all (read as UTC),
/// and the raw `sec.usec` that Ceph prints for times near zero (`0.000000`).
pub fn parse_ceph_time(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return if s.bytes().filter(|&b| b == b'.').count() <= 1 && s != "." {
            s.parse().ok()
        } else {
            None
        };
    }
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let year = c.digits(4)?;
    c.expect(b'-')?;
    let month = c.digits(2)?;
    c.expect(b'-')?;
    let day = c.digits(2)?;
    if !(c.eat(b'T') || c.eat(b' ') || c.eat(b't')) {
        return None;
    }
    let hour = c.digits(2)?;
    c.expect(b':')?;
    let minute = c.digits(2)?;
    c.expect(b':')?;
    let second = c.digits(2)?;
    let frac = if c.eat(b'.') {
        Some(c.digit_run())
    } else {
        None
    };
    let offset = match c.peek() {
        None => 0,
        Some(b'Z' | b'z') => {
            c.i += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let oh = i64::from(c.digits(2)?);
            c.eat(b':');
            let om = if c.peek().is_some() {
                i64::from(c.digits(2)?)
            } else {
                0
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = oh * 3600 + om * 60;
            if sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        Some(_) => return None,
    };
    if c.peek().is_some() {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(i64::from(year), month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)
        - offset;
    match frac {
        // Going through the decimal text gives the f64 nearest to what Ceph printed, so a
        // test can compare against the literal `1795300661.518646` exactly.
        Some(digits) if !digits.is_empty() && secs >= 0 => format!("{secs}.{digits}").parse().ok(),
        Some(digits) if !digits.is_empty() => {
            let f: f64 = format!("0.{digits}").parse().ok()?;
            Some(secs as f64 + f)
        }
        _ => Some(secs as f64),
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn eat(&mut self, want: u8) -> bool {
        if self.peek() == Some(want) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, want: u8) -> Option<()> {
        self.eat(want).then_some(())
    }
    /// Exactly `n` ASCII digits.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let chunk = self.b.get(self.i..self.i + n)?;
        let mut v = 0u32;
        for d in chunk {
            if !d.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(d - b'0');
        }
        self.i += n;
        Some(v)
    }
    /// The (possibly empty) run of digits at the cursor, as text.
    fn digit_run(&mut self) -> &'a str {
        let start = self.i;
        while self.peek().is_some_and(|d| d.is_ascii_digit()) {
            self.i += 1;
        }
        self.b
            .get(start..self.i)
            .and_then(|d| std::str::from_utf8(d).ok())
            .unwrap_or("")
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The JSON part of a command's stdout with interleaved Ceph log lines removed.
///
/// Borrows when there is no log line (the common case, and the one that matters for a
/// 100 MB `bucket stats`). Whitespace-only stdout is `Empty`; log lines only is `Malformed`.
pub(crate) fn json_body(stdout: &str) -> Result<(Cow<'_, str>, usize), ParseError> {
    if stdout.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    // Log lines start at column 0 with a digit; pretty JSON lines never do, so this first
    // pass is cheap.
    let has_log = stdout
        .lines()
        .any(|l| l.starts_with(|c: char| c.is_ascii_digit()) && is_log_line(l));
    if !has_log {
        return Ok((Cow::Borrowed(stdout), 0));
    }
    let mut body = String::with_capacity(stdout.len());
    let mut logs = 0;
    for line in stdout.lines() {
        if is_log_line(line) {
            logs += 1;
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    if body.trim().is_empty() {
        return Err(ParseError::Malformed(format!(
            "no JSON, only {logs} log lines"
        )));
    }
    Ok((Cow::Owned(body), logs))
}

/// First non-whitespace character: `{` or `[` tells a JSON document from text.
pub(crate) fn first_char(s: &str) -> Option<char> {
    s.chars().find(|c| !c.is_whitespace())
}

/// serde would accept a JSON array for a struct (fields by position); these are objects.
pub(crate) fn expect_object(body: &str, what: &str) -> Result<(), ParseError> {
    match first_char(body) {
        Some('{') => Ok(()),
        _ => Err(ParseError::Json(format!(
            "expected a {what} object, got {:?}",
            excerpt(body.trim())
        ))),
    }
}

/// Shortens a line for an error message (messages go to logs, keep them bounded).
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", s.get(..i).unwrap_or_default()),
        None => s.to_string(),
    }
}

/// serde helper: a bool printed as `true` or `"true"` (see [`json_bool`]).
pub(crate) fn de_bool_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a boolean or \"true\"/\"false\"")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            bool_word(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
            Ok(v != 0)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
            Ok(v != 0)
        }
    }
    d.deserialize_any(V)
}

/// serde helper: an integer printed as a number or as a numeric string.
pub(crate) fn de_i64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer or a numeric string")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            v.trim()
                .parse()
                .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }
    d.deserialize_any(V)
}

/// serde helper: like [`de_i64_lenient`], for unsigned fields (shard ids, counts, epochs).
pub(crate) fn de_u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = de_i64_lenient(d)?;
    u64::try_from(v).map_err(|_| de::Error::custom(format!("negative value {v}")))
}

/// serde helper: [`de_u64_lenient`] narrowed to `u32`.
pub(crate) fn de_u32_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = de_u64_lenient(d)?;
    u32::try_from(v).map_err(|_| de::Error::custom(format!("value {v} out of range")))
}

/// serde helper: a string, or any scalar rendered as one (`null` gives `""`).
pub(crate) fn de_string_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a scalar")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_unit<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceph_times_in_every_printed_form() {
        // Text `oldest incremental change not applied` (16.2.15 lab, §2.6 / DESIGN.md).
        assert_eq!(
            parse_ceph_time("2026-11-21T22:38:33.555815+0000"),
            Some(1_795_300_713.555_815)
        );
        // JSON `timestamp` (sync error list, 16.2.15).
        assert_eq!(
            parse_ceph_time("2026-11-21T22:37:41.518646Z"),
            Some(1_795_300_661.518_646)
        );
        // `current time` (Reef+), seconds only.
        assert_eq!(
            parse_ceph_time("2024-03-20T07:03:00Z"),
            Some(1_710_918_180.0)
        );
        assert_eq!(
            parse_ceph_time("2024-02-12T17:19:24Z"),
            Some(1_707_758_364.0)
        );
        // Pre-Octopus JSON used a space.
        assert_eq!(
            parse_ceph_time("2021-02-26 10:04:50.956965Z"),
            Some(1_614_333_890.956_965)
        );
        // Offsets, with and without colon; local time ahead of UTC is earlier in UTC.
        assert_eq!(
            parse_ceph_time("2024-03-20T09:03:00+0200"),
            Some(1_710_918_180.0)
        );
        assert_eq!(
            parse_ceph_time("2024-03-20T09:03:00+02:00"),
            Some(1_710_918_180.0)
        );
        assert_eq!(
            parse_ceph_time("2024-03-20T02:33:00-04:30"),
            Some(1_710_918_180.0)
        );
        assert_eq!(
            parse_ceph_time("2024-03-20T09:03:00+02"),
            Some(1_710_918_180.0)
        );
        // No zone: UTC.
        assert_eq!(
            parse_ceph_time("2024-03-20T07:03:00"),
            Some(1_710_918_180.0)
        );
        // Raw `sec.usec` for times near zero.
        assert_eq!(parse_ceph_time("0.000000"), Some(0.0));
        assert_eq!(parse_ceph_time("12.5"), Some(12.5));
        // Epoch, leap day, end of a leap year, far future.
        assert_eq!(parse_ceph_time("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_ceph_time("2000-02-29T00:00:00Z"), Some(951_782_400.0));
        assert_eq!(
            parse_ceph_time("2024-12-31T23:59:59Z"),
            Some(1_735_689_599.0)
        );
        assert_eq!(
            parse_ceph_time("2100-03-01T00:00:00Z"),
            Some(4_107_542_400.0)
        );
        // Before 1970 still works (never printed by Ceph, but must not misbehave).
        assert_eq!(parse_ceph_time("1969-12-31T23:59:59.5Z"), Some(-0.5));
        // Surrounding whitespace is fine.
        assert_eq!(
            parse_ceph_time(" 2024-03-20T07:03:00Z\n"),
            Some(1_710_918_180.0)
        );
    }

    #[test]
    fn ceph_times_rejected() {
        for bad in [
            "",
            "now",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-03-20T24:00:00Z",
            "2024-03-20T07:60:00Z",
            "2024-03-20T07:03Z",
            "2024-03-20",
            "2024-03-20T07:03:00Q",
            "2024-03-20T07:03:00Zjunk",
            "2024-03-20T07:03:00+2500",
            // The stale form from doc/radosgw/multisite.rst.
            "2017-03-22 10:20:00.0.881361s",
            "1.2.3",
            ".",
            "-5",
        ] {
            assert_eq!(parse_ceph_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn log_lines() {
        assert!(is_log_line(
            "2024-04-18T13:15:16.957+0000 7ffb3d16f880  0 ERROR: failed to fetch datalog info"
        ));
        assert!(is_log_line(
            "2026-11-21T22:38:33.555+0000 7f00aa -1 Source zone not found in zonegroup zg1"
        ));
        assert!(!is_log_line(
            "                        oldest incremental change not applied: 2024-04-18T13:09:04.446175+0000 [71]"
        ));
        assert!(!is_log_line("   current time 2024-02-12T17:19:24Z"));
        assert!(!is_log_line("2024-04-18T13:15:16.957+0000"));
        assert!(!is_log_line("2024-04-18T13:15:16.957+0000 thread 0 x"));
        assert!(!is_log_line("2024-04-18 13:15:16 7ffb 0 x"));
        assert!(!is_log_line(""));
    }

    #[test]
    fn json_bools() {
        use serde_json::json;
        assert_eq!(json_bool(&json!(true)), Some(true));
        assert_eq!(json_bool(&json!(false)), Some(false));
        assert_eq!(json_bool(&json!("true")), Some(true));
        assert_eq!(json_bool(&json!("false")), Some(false));
        assert_eq!(json_bool(&json!("yes")), None);
        assert_eq!(json_bool(&json!(1)), None);
        assert_eq!(json_bool(&json!(null)), None);
    }

    #[test]
    fn shard_sets() {
        assert_eq!(parse_shard_set("[1,2,71]"), Some(vec![1, 2, 71]));
        assert_eq!(parse_shard_set("[71]"), Some(vec![71]));
        assert_eq!(parse_shard_set("[]"), Some(vec![]));
        assert_eq!(parse_shard_set(" [ 1, 2 ] "), Some(vec![1, 2]));
        assert_eq!(parse_shard_set("[1,,2]"), None);
        assert_eq!(parse_shard_set("[1,2"), None);
        assert_eq!(parse_shard_set("1,2"), None);
        assert_eq!(parse_shard_set("[-1]"), None);
    }

    #[test]
    fn named_ids() {
        assert_eq!(
            NamedId::parse("89cb53b0-e12e-4a1a-8215-5f72eb02bc9f (lab)"),
            Some(NamedId {
                id: "89cb53b0-e12e-4a1a-8215-5f72eb02bc9f".into(),
                name: "lab".into()
            })
        );
        // Single-site: `realm  ()`.
        assert_eq!(NamedId::parse(" ()"), Some(NamedId::default()));
        assert_eq!(split_id_name("abc"), Some(("abc", None)));
        assert_eq!(
            split_id_name("abc (my zone)"),
            Some(("abc", Some("my zone")))
        );
        assert_eq!(split_id_name("abc junk"), Some(("abc", None)));
        assert_eq!(split_id_name("  "), None);
    }

    #[test]
    fn json_body_strips_log_lines() {
        let out = "2024-04-18T13:15:16.957+0000 7ffb3d16f880  0 ERROR: x\n{\"a\": 1}\n";
        let (body, logs) = json_body(out)
            .map_err(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!((body.as_ref(), logs), ("{\"a\": 1}\n", 1));
        assert_eq!(json_body(" \n"), Err(ParseError::Empty));
        assert_eq!(
            json_body("2024-04-18T13:15:16.957+0000 7ffb3d16f880  0 x\n"),
            Err(ParseError::Malformed("no JSON, only 1 log lines".into()))
        );
    }

    #[test]
    fn excerpts_are_bounded() {
        assert_eq!(excerpt("short"), "short");
        assert_eq!(excerpt(&"é".repeat(100)).chars().count(), 83);
    }
}
