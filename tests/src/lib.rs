//! Helpers shared by the end-to-end tests: fixture paths and golden-file comparison.
use std::path::PathBuf;

/// Root of `tests/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}
