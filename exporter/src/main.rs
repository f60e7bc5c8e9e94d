//! Placeholder binary; filled in by its issue.
fn main() {}
