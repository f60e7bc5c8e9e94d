//! Shared library of the RGW multisite exporters: everything testable lives here.
//!
//! Data flows one way: `runner` (argv, timeout) -> raw output -> `parse` (pure `&str` ->
//! typed model) -> collectors (schedule, cache, success/duration) -> `metrics` (model ->
//! exposition, pure) -> `serve` (HTTP).

pub mod agent;
pub mod check;
pub mod collect;
pub mod config;
pub mod file_config;
pub mod metrics;
pub mod parse;
pub mod primary;
pub mod rest;
pub mod runner;
pub mod serve;
pub mod webconfig;
