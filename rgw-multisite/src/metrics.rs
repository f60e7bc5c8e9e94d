//! Metric families and the Prometheus text exposition (format 0.0.4), pure and allocation-light.
//!
//! Collectors build a fresh [`MetricSet`] every cycle (as blackbox_exporter builds a fresh
//! registry per probe), so a bucket that vanished from the cluster vanishes from `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: String,
    pub kind: Kind,
    /// Label pairs -> value. A BTreeMap keeps output stable and drops duplicates.
    pub samples: BTreeMap<Vec<(String, String)>, f64>,
}

impl Family {
    /// Adds (or replaces) one sample. Label order is the order given.
    pub fn set(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        let key = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples.insert(key, value);
        self
    }

    /// Adds `value` to the sample (starting from 0).
    pub fn add(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        let key = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        *self.samples.entry(key).or_insert(0.0) += value;
        self
    }
}

/// A set of families, kept sorted by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricSet {
    families: BTreeMap<String, Family>,
}

impl MetricSet {
    pub fn new() -> Self {
        Self::default()
    }

    fn family(&mut self, name: &str, help: &str, kind: Kind) -> &mut Family {
        self.families
            .entry(name.to_string())
            .or_insert_with(|| Family {
                name: name.to_string(),
                help: help.to_string(),
                kind,
                samples: BTreeMap::new(),
            })
    }

    pub fn gauge(&mut self, name: &str, help: &str) -> &mut Family {
        self.family(name, help, Kind::Gauge)
    }

    pub fn counter(&mut self, name: &str, help: &str) -> &mut Family {
        self.family(name, help, Kind::Counter)
    }

    pub fn get(&self, name: &str) -> Option<&Family> {
        self.families.get(name)
    }

    pub fn families(&self) -> impl Iterator<Item = &Family> {
        self.families.values()
    }

    pub fn is_empty(&self) -> bool {
        self.families.is_empty()
    }

    /// Number of samples over all families.
    pub fn series_count(&self) -> usize {
        self.families.values().map(|f| f.samples.len()).sum()
    }

    /// Adds every sample of `other`; on a clash of label sets the sample already here wins.
    pub fn merge(&mut self, other: &MetricSet) {
        for f in other.families.values() {
            let mine = self.family(&f.name, &f.help, f.kind);
            for (k, v) in &f.samples {
                mine.samples.entry(k.clone()).or_insert(*v);
            }
        }
    }

    /// Renders the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(self.series_count() * 96 + 1024);
        for f in self.families.values() {
            if f.samples.is_empty() {
                continue;
            }
            let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(&f.help));
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.as_str());
            for (labels, value) in &f.samples {
                out.push_str(&f.name);
                if !labels.is_empty() {
                    out.push('{');
                    for (i, (k, v)) in labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(k);
                        out.push_str("=\"");
                        escape_label_into(&mut out, v);
                        out.push('"');
                    }
                    out.push('}');
                }
                out.push(' ');
                out.push_str(&format_value(*value));
                out.push('\n');
            }
        }
        out
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Integers print without a fraction, like client_golang does.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_sorted_families_with_escaped_labels() {
        let mut m = MetricSet::new();
        m.gauge("b_metric", "Second.")
            .set(&[("bucket", "a\"b\\c\nd")], 1.5);
        m.counter("a_total", "First; from `sync error list`.")
            .set(&[("zone", "us-west")], 3.0)
            .set(&[], 0.0);
        assert_eq!(
            m.render(),
            "# HELP a_total First; from `sync error list`.\n# TYPE a_total counter\n\
             a_total 0\na_total{zone=\"us-west\"} 3\n\
             # HELP b_metric Second.\n# TYPE b_metric gauge\n\
             b_metric{bucket=\"a\\\"b\\\\c\\nd\"} 1.5\n"
        );
    }

    #[test]
    fn merge_keeps_existing_samples_and_adds_new_ones() {
        let mut a = MetricSet::new();
        a.gauge("x", "h").set(&[("k", "1")], 1.0);
        let mut b = MetricSet::new();
        b.gauge("x", "h")
            .set(&[("k", "1")], 9.0)
            .set(&[("k", "2")], 2.0);
        a.merge(&b);
        assert_eq!(
            a.render(),
            "# HELP x h\n# TYPE x gauge\nx{k=\"1\"} 1\nx{k=\"2\"} 2\n"
        );
        assert_eq!(a.series_count(), 2);
    }

    #[test]
    fn values_format_like_client_golang() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(-2.0), "-2");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(1.7e18), "1700000000000000000");
    }

    #[test]
    fn empty_families_are_not_rendered() {
        let mut m = MetricSet::new();
        m.gauge("x", "h");
        assert_eq!(m.render(), "");
    }
}
