//! Parser for `radosgw-admin bucket list` (JSON array of bucket names).

use super::common::{excerpt, first_char, json_body};
use super::ParseError;

/// Parses `bucket list` stdout: `["b1", "tenant/b2", ...]`. Interleaved Ceph log lines are
/// skipped like in every other JSON parser; anything but an array of strings is an error.
pub fn parse_bucket_list(stdout: &str) -> Result<Vec<String>, ParseError> {
    let (body, _log_lines) = json_body(stdout)?;
    if first_char(&body) != Some('[') {
        return Err(ParseError::Json(format!(
            "expected an array of bucket names, got {:?}",
            excerpt(body.trim())
        )));
    }
    Ok(serde_json::from_str(&body)?)
}

#[cfg(test)]
mod tests {
    use super::super::{truncations, GARBAGE};
    use super::*;

    #[test]
    fn names_in_order() {
        let out = "[\n    \"bucket-1\",\n    \"acme/bucket-2\"\n]\n";
        assert_eq!(
            parse_bucket_list(out),
            Ok(vec!["bucket-1".to_string(), "acme/bucket-2".to_string()])
        );
        assert_eq!(parse_bucket_list("[]\n"), Ok(Vec::new()));
    }

    #[test]
    fn log_lines_are_skipped() {
        let out = "2024-04-18T13:15:16.957+0000 7ffb3d16f880  0 ERROR: x\n[\n    \"b\"\n]\n";
        assert_eq!(parse_bucket_list(out), Ok(vec!["b".to_string()]));
    }

    #[test]
    fn errors_not_partial_lists() {
        assert_eq!(parse_bucket_list(" \n"), Err(ParseError::Empty));
        assert!(matches!(
            parse_bucket_list("{\"a\": 1}"),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            parse_bucket_list("[1, 2]"),
            Err(ParseError::Json(_))
        ));
        let full = "[\n    \"bucket-1\",\n    \"bucket-2\"\n]\n";
        for cut in truncations(full) {
            if cut.trim_end() != full.trim_end() {
                assert!(parse_bucket_list(cut).is_err(), "{cut:?} parsed");
            }
        }
        for g in GARBAGE {
            let _ = parse_bucket_list(g);
        }
    }
}
