//! The scale benchmark of issue 7: a simulated `radosgw-admin` for realms of any size
//! (`sim`), and what the benchmark command needs to measure both exporters against it
//! (`measure`).

pub mod measure;
pub mod sim;
