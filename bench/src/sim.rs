//! The simulated realm behind `sim-radosgw-admin`: its configuration, a deterministic model
//! of N buckets, S datalog shards, K lagging buckets and E sync errors, and every output the
//! exporters read, byte for byte in the Ceph 16.2.15 formats of the lab captures
//! (`tests/fixtures/radosgw-admin/pacific-*`).
//!
//! Nothing is random at run time: every id, count and timestamp is a hash of the seed and a
//! name, so two calls (or two processes) agree, and a state file rewritten between calls is
//! the only thing that changes an answer.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// `2026-11-22T00:00:00Z`, the day of the lab captures: every synthetic time is near it.
pub const BASE_TIME: f64 = 1_795_305_600.0;

/// RGW's `ERROR_LOGGER_SHARDS`.
pub const ERROR_LOG_SHARDS: u32 = 32;

/// What `--version` prints: the release of the captures.
pub const VERSION: &str =
    "ceph version 16.2.15 (618f440892089921c3e944a991122ddc44e60516) pacific (stable)";

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

/// The simulated realm. Read from `key=value` lines (the file named by `SIM_RGW_CONFIG`),
/// then overridden by `SIM_RGW_<KEY>` environment variables.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Buckets in the zonegroup, named `bucket-000000`, `bucket-000001`, ...
    pub buckets: usize,
    /// `rgw_data_log_num_shards` (Ceph's default: 128).
    pub datalog_shards: u32,
    /// Bucket index shards of every bucket (`bucket_index_max_shards`, 11 in the lab).
    pub bucket_shards: u32,
    /// `rgw_md_log_max_shards` (64 by default).
    pub md_shards: u32,
    /// Zone names; the first is the zonegroup's (and the realm's metadata) master.
    pub zones: Vec<String>,
    /// Zones whose copies of the lagging buckets are behind; empty: every non-master zone.
    pub lagging_zones: Vec<String>,
    /// Number of lagging buckets picked from the seed.
    pub lagging: usize,
    /// Since when the seeded lagging buckets lag (unix seconds).
    pub lagging_since: f64,
    /// Further lagging buckets by name, each with its own start (`name@unix`, or `name`
    /// for `lagging_since`). The benchmark adds its probe buckets here.
    pub lagging_buckets: Vec<(String, Option<f64>)>,
    /// Entries in each lagging zone's sync error log.
    pub errors: usize,
    /// Time every call takes before it answers (process start + cluster connect).
    pub latency_ms: f64,
    pub seed: u64,
    /// Where `bucket stats` outputs are kept between calls; `None`: a directory in $TMPDIR.
    pub cache_dir: Option<PathBuf>,
    /// Append one line per call: start time, duration, exit code, the call's key.
    pub log: Option<PathBuf>,
    pub realm: String,
    pub zonegroup: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            buckets: 1000,
            datalog_shards: 128,
            bucket_shards: 11,
            md_shards: 64,
            zones: vec!["us-east".into(), "us-west".into()],
            lagging_zones: Vec::new(),
            lagging: 0,
            lagging_since: BASE_TIME,
            lagging_buckets: Vec::new(),
            errors: 0,
            latency_ms: 100.0,
            seed: 1,
            cache_dir: None,
            log: None,
            realm: "lab".into(),
            zonegroup: "zg1".into(),
        }
    }
}

/// Every key a config file or `SIM_RGW_<KEY>` may set.
pub const CONFIG_KEYS: &[&str] = &[
    "buckets",
    "datalog_shards",
    "bucket_shards",
    "md_shards",
    "zones",
    "lagging_zones",
    "lagging",
    "lagging_since",
    "lagging_buckets",
    "errors",
    "latency_ms",
    "seed",
    "cache_dir",
    "log",
    "realm",
    "zonegroup",
];

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{key}={v}: not a number"))
}

impl SimConfig {
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "buckets" => self.buckets = num(key, value)?,
            "datalog_shards" => self.datalog_shards = num::<u32>(key, value)?.max(1),
            "bucket_shards" => self.bucket_shards = num::<u32>(key, value)?.max(1),
            "md_shards" => self.md_shards = num::<u32>(key, value)?.max(1),
            "zones" => {
                let z = list(value);
                if z.is_empty() {
                    return Err("zones: at least one zone".into());
                }
                self.zones = z;
            }
            "lagging_zones" => self.lagging_zones = list(value),
            "lagging" => self.lagging = num(key, value)?,
            "lagging_since" => self.lagging_since = num(key, value)?,
            "lagging_buckets" => {
                self.lagging_buckets = list(value)
                    .into_iter()
                    .map(|item| match item.split_once('@') {
                        Some((name, since)) => {
                            num::<f64>(key, since).map(|s| (name.to_string(), Some(s)))
                        }
                        None => Ok((item, None)),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "errors" => self.errors = num(key, value)?,
            "latency_ms" => self.latency_ms = num::<f64>(key, value)?.max(0.0),
            "seed" => self.seed = num(key, value)?,
            "cache_dir" => self.cache_dir = Some(PathBuf::from(value.trim())),
            "log" => {
                self.log = Some(value.trim())
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from)
            }
            "realm" => self.realm = value.trim().to_string(),
            "zonegroup" => self.zonegroup = value.trim().to_string(),
            _ => return Err(format!("unknown key {key:?}")),
        }
        Ok(())
    }

    /// `key=value` lines; `#` starts a comment.
    pub fn parse(text: &str) -> Result<SimConfig, String> {
        let mut c = SimConfig::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| format!("line {}: expected key=value", n + 1))?;
            c.set(k.trim(), v)
                .map_err(|e| format!("line {}: {e}", n + 1))?;
        }
        Ok(c)
    }

    /// The file of `SIM_RGW_CONFIG` (if set), then `SIM_RGW_<KEY>` variables.
    pub fn from_env() -> Result<SimConfig, String> {
        let mut c = match std::env::var_os("SIM_RGW_CONFIG") {
            Some(p) => {
                let text = std::fs::read_to_string(&p)
                    .map_err(|e| format!("SIM_RGW_CONFIG={}: {e}", Path::new(&p).display()))?;
                SimConfig::parse(&text)
                    .map_err(|e| format!("SIM_RGW_CONFIG={}: {e}", Path::new(&p).display()))?
            }
            None => SimConfig::default(),
        };
        for key in CONFIG_KEYS {
            if let Ok(v) = std::env::var(format!("SIM_RGW_{}", key.to_ascii_uppercase())) {
                c.set(key, &v).map_err(|e| format!("SIM_RGW_{key}: {e}"))?;
            }
        }
        Ok(c)
    }

    /// The file form, which [`SimConfig::parse`] reads back.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "buckets={}", self.buckets);
        let _ = writeln!(s, "datalog_shards={}", self.datalog_shards);
        let _ = writeln!(s, "bucket_shards={}", self.bucket_shards);
        let _ = writeln!(s, "md_shards={}", self.md_shards);
        let _ = writeln!(s, "zones={}", self.zones.join(","));
        let _ = writeln!(s, "lagging_zones={}", self.lagging_zones.join(","));
        let _ = writeln!(s, "lagging={}", self.lagging);
        let _ = writeln!(s, "lagging_since={}", self.lagging_since);
        let lb: Vec<String> = self
            .lagging_buckets
            .iter()
            .map(|(n, s)| match s {
                Some(s) => format!("{n}@{s}"),
                None => n.clone(),
            })
            .collect();
        let _ = writeln!(s, "lagging_buckets={}", lb.join(","));
        let _ = writeln!(s, "errors={}", self.errors);
        let _ = writeln!(s, "latency_ms={}", self.latency_ms);
        let _ = writeln!(s, "seed={}", self.seed);
        if let Some(d) = &self.cache_dir {
            let _ = writeln!(s, "cache_dir={}", d.display());
        }
        if let Some(l) = &self.log {
            let _ = writeln!(s, "log={}", l.display());
        }
        let _ = writeln!(s, "realm={}", self.realm);
        let _ = writeln!(s, "zonegroup={}", self.zonegroup);
        s
    }
}

/// Writes a config file atomically (a reader never sees half of it).
pub fn write_config(path: &Path, cfg: &SimConfig) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, cfg.to_text())?;
    std::fs::rename(&tmp, path)
}

// ---------------------------------------------------------------------------------------
// Hashes and times
// ---------------------------------------------------------------------------------------

/// splitmix64.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn mix2(a: u64, b: u64) -> u64 {
    mix(a ^ mix(b))
}

/// FNV-1a: stable across processes and Rust releases (cache keys, seeds from names).
pub fn fnv(s: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in s {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Ceph's `ceph_str_hash_linux`, which `RGWDataChangesLog::choose_oid` uses to put a bucket
/// shard in a datalog shard: `(hash(bucket name) + shard_id) % rgw_data_log_num_shards`.
pub fn ceph_str_hash_linux(s: &[u8]) -> u32 {
    let mut hash: u64 = 0;
    for &c in s {
        let c = u64::from(c);
        hash = hash
            .wrapping_add(c << 4)
            .wrapping_add(c >> 4)
            .wrapping_mul(11);
    }
    hash as u32
}

/// The datalog shard that carries changes of one bucket index shard.
pub fn datalog_shard(bucket: &str, bucket_shard: u32, datalog_shards: u32) -> u32 {
    ceph_str_hash_linux(bucket.as_bytes()).wrapping_add(bucket_shard) % datalog_shards.max(1)
}

fn uuid(h: u64) -> String {
    let a = mix(h);
    let b = mix(a);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn split_time(t: f64) -> (i64, u32) {
    let mut secs = t.floor() as i64;
    let mut usec = ((t - t.floor()) * 1e6).round() as u32;
    if usec >= 1_000_000 {
        secs += 1;
        usec -= 1_000_000;
    }
    (secs, usec)
}

fn ymdhms(secs: i64) -> String {
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// JSON times: `2026-11-21T22:37:41.518646Z`.
pub fn json_time(t: f64) -> String {
    let (secs, usec) = split_time(t);
    format!("{}.{usec:06}Z", ymdhms(secs))
}

/// `oldest incremental change not applied:` times, local time with an offset (UTC here).
pub fn text_time(t: f64) -> String {
    let (secs, usec) = split_time(t);
    format!("{}.{usec:06}+0000", ymdhms(secs))
}

// ---------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------

/// Objects and bytes of one bucket's copy in one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub objects: u64,
    pub size: u64,
    pub size_actual: u64,
}

/// One entry of a zone's sync error log.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorEntry {
    pub shard: u32,
    pub id: String,
    pub name: String,
    pub timestamp: f64,
    pub message: &'static str,
}

pub struct Sim {
    pub cfg: SimConfig,
    zone_ids: Vec<String>,
    realm_id: String,
    zonegroup_id: String,
    period_id: String,
    predecessor: String,
    /// Bucket name -> since when it lags.
    lagging: BTreeMap<String, f64>,
}

/// Exit code, as radosgw-admin returns it.
pub type Rc = u8;

/// A parsed argv: positional words, `--opt=value` options, and the replay key (the words,
/// then the options sorted, connection options dropped, as `stub-radosgw-admin` keys them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Call {
    pub words: Vec<String>,
    pub opts: BTreeMap<String, String>,
    pub key: String,
}

/// Options that only select the cluster or the identity, or tune timeouts.
const CONNECTION_OPTS_WITH_VALUE: &[&str] = &[
    "-c",
    "--conf",
    "--cluster",
    "--id",
    "-i",
    "-n",
    "--name",
    "--keyring",
    "-k",
];
const CONNECTION_OPT_PREFIXES: &[&str] = &[
    "--conf=",
    "--cluster=",
    "--id=",
    "--name=",
    "--keyring=",
    "--client_mount_timeout=",
    "--rados_mon_op_timeout=",
    "--rados_osd_op_timeout=",
];
/// Options whose value may follow as the next argument (`--bucket b`).
const VALUE_OPTS: &[&str] = &[
    "--rgw-zone",
    "--bucket",
    "--source-zone",
    "--shard-id",
    "--marker",
    "--max-entries",
    "--format",
];

pub fn parse_call(args: &[String]) -> Call {
    let mut c = Call::default();
    let mut keyed = Vec::new();
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        if CONNECTION_OPTS_WITH_VALUE.contains(&a.as_str()) {
            it.next();
        } else if CONNECTION_OPT_PREFIXES.iter().any(|p| a.starts_with(p)) {
        } else if let Some((k, v)) = a.split_once('=').filter(|_| a.starts_with("--")) {
            c.opts.insert(k.to_string(), v.to_string());
            keyed.push(a.clone());
        } else if VALUE_OPTS.contains(&a.as_str()) {
            let v = it.next().cloned().unwrap_or_default();
            keyed.push(format!("{a}={v}"));
            c.opts.insert(a.clone(), v);
        } else if a.starts_with('-') {
            c.opts.insert(a.clone(), String::new());
            keyed.push(a.clone());
        } else {
            c.words.push(a.clone());
        }
    }
    keyed.sort();
    let mut key = c.words.clone();
    key.extend(keyed);
    c.key = key.join(" ");
    c
}

impl Call {
    fn opt(&self, name: &str) -> Option<&str> {
        self.opts.get(name).map(String::as_str)
    }

    fn is(&self, words: &[&str]) -> bool {
        self.words.len() == words.len() && self.words.iter().zip(words).all(|(a, b)| a == b)
    }
}

/// An answer: stdout as text, or a cached file to copy (`bucket stats` of a whole zone).
pub enum Stdout {
    Text(String),
    File(PathBuf),
}

pub struct Answer {
    pub stdout: Stdout,
    pub stderr: String,
    pub rc: Rc,
}

fn text(s: String) -> Answer {
    Answer {
        stdout: Stdout::Text(s),
        stderr: String::new(),
        rc: 0,
    }
}

fn fail(rc: Rc, stderr: &str) -> Answer {
    Answer {
        stdout: Stdout::Text(String::new()),
        stderr: format!("{stderr}\n"),
        rc,
    }
}

/// Ceph's JSONFormatter with pretty printing: 4-space indent, `"key": value`.
fn pretty<T: Serialize>(v: &T) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if v.serialize(&mut ser).is_err() {
        return String::new();
    }
    let mut s = String::from_utf8(buf).unwrap_or_default();
    s.push('\n');
    s
}

const WIDTH: usize = 15;

/// `std::setw(15)` right-aligned label and a space, as the text commands print headers.
fn label(out: &mut String, l: &str) {
    let _ = write!(out, "{l:>WIDTH$} ");
}

impl Sim {
    pub fn new(cfg: SimConfig) -> Sim {
        let seed = cfg.seed;
        let id = |what: &str| uuid(mix2(seed, fnv(what.as_bytes())));
        let zone_ids = cfg.zones.iter().map(|z| id(&format!("zone/{z}"))).collect();
        let realm_id = id(&format!("realm/{}", cfg.realm));
        let zonegroup_id = id(&format!("zonegroup/{}", cfg.zonegroup));
        let period_id = id("period");
        let predecessor = id("period/predecessor");
        let mut lagging = BTreeMap::new();
        if cfg.buckets > 0 {
            let want = cfg.lagging.min(cfg.buckets);
            let mut j = 0u64;
            while lagging.len() < want {
                let i = (mix2(seed ^ 0x1a66, j) % cfg.buckets as u64) as usize;
                lagging.insert(bucket_name(i), cfg.lagging_since);
                j += 1;
            }
        }
        let mut sim = Sim {
            cfg,
            zone_ids,
            realm_id,
            zonegroup_id,
            period_id,
            predecessor,
            lagging,
        };
        let explicit = sim.cfg.lagging_buckets.clone();
        for (name, since) in explicit {
            if sim.bucket_index(&name).is_some() {
                sim.lagging
                    .insert(name, since.unwrap_or(sim.cfg.lagging_since));
            }
        }
        sim
    }

    pub fn master(&self) -> &str {
        self.cfg.zones.first().map_or("", String::as_str)
    }

    pub fn zone_id(&self, zone: &str) -> Option<&str> {
        let i = self.cfg.zones.iter().position(|z| z == zone)?;
        self.zone_ids.get(i).map(String::as_str)
    }

    fn master_id(&self) -> &str {
        self.zone_ids.first().map_or("", String::as_str)
    }

    /// Lagging buckets and since when, by name.
    pub fn lagging(&self) -> &BTreeMap<String, f64> {
        &self.lagging
    }

    pub fn is_lagging_zone(&self, zone: &str) -> bool {
        zone != self.master()
            && self.zone_id(zone).is_some()
            && (self.cfg.lagging_zones.is_empty()
                || self.cfg.lagging_zones.iter().any(|z| z == zone))
    }

    /// True when `zone` pulling from `source` is behind on the lagging buckets: the master's
    /// writes have not reached the lagging zones.
    fn lags(&self, zone: &str, source: &str) -> bool {
        source == self.master() && self.is_lagging_zone(zone)
    }

    pub fn bucket_index(&self, name: &str) -> Option<usize> {
        let digits = name.strip_prefix("bucket-")?;
        let i: usize = digits.parse().ok()?;
        (i < self.cfg.buckets && bucket_name(i) == name).then_some(i)
    }

    pub fn instance(&self, i: usize) -> String {
        format!(
            "{}.{}.{}",
            self.master_id(),
            4167 + i / 10_000,
            i % 10_000 + 1
        )
    }

    /// Index shards a lagging bucket is behind on: one to three, fixed by its name.
    pub fn behind_shards(&self, bucket: &str) -> Vec<u32> {
        let bs = self.cfg.bucket_shards.max(1);
        let h = mix2(self.cfg.seed, fnv(bucket.as_bytes()));
        let want = (1 + h % 3).min(u64::from(bs)) as usize;
        let mut v = BTreeSet::new();
        let mut k = 0u64;
        while v.len() < want {
            v.insert((mix2(h, k) % u64::from(bs)) as u32);
            k += 1;
        }
        v.into_iter().collect()
    }

    fn lagging_in(&self, zone: &str, source: &str) -> Vec<(&str, f64)> {
        if !self.lags(zone, source) {
            return Vec::new();
        }
        self.lagging.iter().map(|(n, s)| (n.as_str(), *s)).collect()
    }

    /// Datalog shards behind, and the oldest unapplied change with its shard.
    pub fn behind_datalog_shards(
        &self,
        zone: &str,
        source: &str,
    ) -> (BTreeSet<u32>, Option<(f64, u32)>) {
        let mut shards = BTreeSet::new();
        let mut oldest: Option<(f64, u32)> = None;
        for (name, since) in self.lagging_in(zone, source) {
            let mine: Vec<u32> = self
                .behind_shards(name)
                .into_iter()
                .map(|s| datalog_shard(name, s, self.cfg.datalog_shards))
                .collect();
            if let Some(first) = mine.iter().min() {
                if oldest.is_none_or(|(t, _)| since < t) {
                    oldest = Some((since, *first));
                }
            }
            shards.extend(mine);
        }
        (shards, oldest)
    }

    fn base_usage(&self, i: usize) -> Option<Usage> {
        let h = mix2(self.cfg.seed ^ 0x05a75, i as u64);
        if h.is_multiple_of(50) {
            return None;
        }
        let objects = 10 + (h >> 8) % 5000;
        let avg = 512 + (h >> 24) % 16_384;
        Some(Usage {
            objects,
            size: objects * avg + (h >> 40) % avg,
            size_actual: objects * avg.div_ceil(4096) * 4096,
        })
    }

    /// The bucket's counts as `zone` sees them. A lagging bucket took writes on the master
    /// that the lagging zones have not applied (ratio at most 0.8, class HIGH).
    pub fn usage(&self, i: usize, zone: &str) -> Option<Usage> {
        let base = self.base_usage(i);
        let name = bucket_name(i);
        if !self.lagging.contains_key(&name) || self.is_lagging_zone(zone) {
            return base;
        }
        let b = base.unwrap_or(Usage {
            objects: 0,
            size: 0,
            size_actual: 0,
        });
        let extra = (b.objects / 4).max(25);
        Some(Usage {
            objects: b.objects + extra,
            size: b.size + extra * 4096,
            size_actual: b.size_actual + extra * 4096,
        })
    }

    /// Entries of `zone`'s error log: the lagging zones each have `errors` of them.
    pub fn errors(&self, zone: &str) -> Vec<ErrorEntry> {
        if !self.is_lagging_zone(zone) || self.cfg.buckets == 0 {
            return Vec::new();
        }
        let n = self.cfg.buckets as u64;
        (0..self.cfg.errors)
            .map(|j| {
                let h = mix2(self.cfg.seed ^ 0xe7707, j as u64);
                let i = ((h >> 8) % n) as usize;
                let bshard = (h >> 40) % u64::from(self.cfg.bucket_shards);
                let t = BASE_TIME + 3600.0 + j as f64 * 1.7 + ((h >> 20) % 1_000_000) as f64 / 1e6;
                let (secs, usec) = split_time(t);
                let base = format!("{}:{}:{bshard}", bucket_name(i), self.instance(i));
                let (name, message) = if j % 3 == 0 {
                    (
                        base,
                        "failed to sync bucket instance: (5) Input/output error",
                    )
                } else {
                    (
                        format!("{base}/obj-{j:06}"),
                        "failed to sync object(5) Input/output error",
                    )
                };
                ErrorEntry {
                    shard: (h % u64::from(ERROR_LOG_SHARDS)) as u32,
                    id: format!("1_{secs}.{usec:06}_{}.1", 400 + j),
                    name,
                    timestamp: t,
                    message,
                }
            })
            .collect()
    }

    // -----------------------------------------------------------------------------------
    // Commands
    // -----------------------------------------------------------------------------------

    /// Answers one call as radosgw-admin 16.2.15 would.
    pub fn answer(&self, call: &Call) -> Answer {
        if (call.words.is_empty() && call.opts.contains_key("--version")) || call.is(&["version"]) {
            return text(format!("{VERSION}\n"));
        }
        let zone = call.opt("--rgw-zone").unwrap_or(self.master()).to_string();
        if self.zone_id(&zone).is_none() {
            return fail(5, "couldn't init storage provider");
        }
        let bucket = call.opt("--bucket");
        match call
            .words
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["period", "get"] => text(self.period_get()),
            ["sync", "status"] => text(self.sync_status(&zone)),
            ["sync", "error", "list"] => self.sync_error_list(&zone, call),
            ["data", "sync", "status"] => self.data_sync_status(&zone, call),
            ["bucket", "list"] => text(pretty(&self.bucket_names())),
            ["bucket", "stats"] => match bucket {
                Some(b) => match self.bucket_index(b) {
                    Some(i) => text(self.bucket_stats_one(i, &zone, "") + "\n"),
                    None => fail(210, "failure: (2002) Unknown error 2002: "),
                },
                None => self.bucket_stats_all(&zone),
            },
            ["bucket", "sync", "status"] => {
                self.bucket_sync_status(&zone, bucket, call.opt("--source-zone"))
            }
            ["bucket", "sync", "info"] => self.bucket_sync_info(&zone, bucket),
            ["sync", "info"] => self.sync_info(&zone, bucket),
            _ => fail(
                22,
                &format!("sim-radosgw-admin: no simulation of '{}'", call.key),
            ),
        }
    }

    fn bucket_names(&self) -> Vec<String> {
        (0..self.cfg.buckets).map(bucket_name).collect()
    }

    fn header(&self, zone: &str) -> String {
        let mut s = String::new();
        label(&mut s, "realm");
        let _ = writeln!(s, "{} ({})", self.realm_id, self.cfg.realm);
        label(&mut s, "zonegroup");
        let _ = writeln!(s, "{} ({})", self.zonegroup_id, self.cfg.zonegroup);
        label(&mut s, "zone");
        let _ = writeln!(s, "{} ({zone})", self.zone_id(zone).unwrap_or(""));
        s
    }

    pub fn sync_status(&self, zone: &str) -> String {
        let mut s = self.header(zone);
        let pad16 = " ".repeat(16);
        if zone == self.master() {
            s.push_str("  metadata sync no sync (zone is master)\n");
        } else {
            let md = self.cfg.md_shards;
            s.push_str("  metadata sync syncing\n");
            let _ = writeln!(s, "{pad16}full sync: 0/{md} shards");
            let _ = writeln!(s, "{pad16}incremental sync: {md}/{md} shards");
            let _ = writeln!(s, "{pad16}metadata is caught up with master");
        }
        let pad24 = " ".repeat(24);
        let n = self.cfg.datalog_shards;
        let mut first = true;
        for (src, id) in self.cfg.zones.iter().zip(&self.zone_ids) {
            if src == zone {
                continue;
            }
            let lead = if first {
                "      data sync "
            } else {
                "                "
            };
            first = false;
            let _ = writeln!(s, "{lead}source: {id} ({src})");
            let _ = writeln!(s, "{pad24}syncing");
            let _ = writeln!(s, "{pad24}full sync: 0/{n} shards");
            let _ = writeln!(s, "{pad24}incremental sync: {n}/{n} shards");
            let (behind, oldest) = self.behind_datalog_shards(zone, src);
            if behind.is_empty() {
                let _ = writeln!(s, "{pad24}data is caught up with source");
                continue;
            }
            let _ = writeln!(s, "{pad24}data is behind on {} shards", behind.len());
            let _ = writeln!(s, "{pad24}behind shards: [{}]", join(&behind));
            if let Some((t, shard)) = oldest {
                let _ = writeln!(
                    s,
                    "{pad24}oldest incremental change not applied: {} [{shard}]",
                    text_time(t)
                );
            }
        }
        s
    }

    fn sync_error_list(&self, zone: &str, call: &Call) -> Answer {
        let max: usize = match call.opt("--max-entries").map(str::parse).transpose() {
            Ok(m) => m.unwrap_or(1000),
            Err(_) => return fail(22, "ERROR: failed to parse --max-entries"),
        };
        let shards: Vec<u32> = match call.opt("--shard-id").map(str::parse::<u32>).transpose() {
            Ok(Some(s)) if s < ERROR_LOG_SHARDS => vec![s],
            Ok(Some(_)) => return fail(22, "ERROR: invalid shard id"),
            Ok(None) => (0..ERROR_LOG_SHARDS).collect(),
            Err(_) => return fail(22, "ERROR: failed to parse --shard-id"),
        };
        let marker = call.opt("--marker").unwrap_or("");
        let all = self.errors(zone);
        let source = self.master_id().to_string();
        let out: Vec<ErrorShard> = shards
            .into_iter()
            .map(|shard| {
                let mut mine: Vec<&ErrorEntry> = all
                    .iter()
                    .filter(|e| e.shard == shard && e.id.as_str() > marker)
                    .collect();
                mine.sort_by(|a, b| a.id.cmp(&b.id));
                mine.truncate(max);
                ErrorShard {
                    shard_id: shard,
                    entries: mine
                        .into_iter()
                        .map(|e| ErrorJson {
                            id: e.id.clone(),
                            section: "data",
                            name: e.name.clone(),
                            timestamp: json_time(e.timestamp),
                            info: ErrorInfo {
                                source_zone: source.clone(),
                                error_code: 5,
                                message: e.message,
                            },
                        })
                        .collect(),
                }
            })
            .collect();
        text(pretty(&out))
    }

    fn data_sync_status(&self, zone: &str, call: &Call) -> Answer {
        let Some(source) = call.opt("--source-zone") else {
            return fail(22, "ERROR: source zone not specified");
        };
        if self.zone_id(source).is_none() || source == zone {
            return fail(5, "ERROR: sync.init() returned ret=-5");
        }
        let marker = |shard: u32| {
            let h = mix2(
                self.cfg.seed ^ 0xd47a,
                fnv(format!("{zone}/{source}/{shard}").as_bytes()),
            );
            DataMarker {
                status: "incremental-sync",
                marker: format!("00000000000000000000:{:020}", 500 + h % 5000),
                next_step_marker: "",
                total_entries: 0,
                pos: 0,
                timestamp: json_time(BASE_TIME + 700.0 + (h % 1_000_000) as f64 / 1e6),
            }
        };
        match call.opt("--shard-id").map(str::parse::<u32>) {
            Some(Ok(shard)) if shard < self.cfg.datalog_shards => {
                let mut pending: Vec<String> = Vec::new();
                for (name, _) in self.lagging_in(zone, source) {
                    let Some(i) = self.bucket_index(name) else {
                        continue;
                    };
                    for bs in self.behind_shards(name) {
                        if datalog_shard(name, bs, self.cfg.datalog_shards) == shard {
                            pending.push(format!("{name}:{}:{bs}", self.instance(i)));
                        }
                    }
                }
                pending.sort();
                text(pretty(&DataShard {
                    shard_id: shard,
                    marker: marker(shard),
                    pending_buckets: pending,
                    recovering_buckets: Vec::new(),
                }))
            }
            Some(_) => fail(22, "ERROR: invalid shard id"),
            None => {
                let h = mix2(
                    self.cfg.seed,
                    fnv(format!("instance/{zone}/{source}").as_bytes()),
                );
                text(pretty(&DataStatus {
                    sync_status: DataSyncStatus {
                        info: DataInfo {
                            status: "sync",
                            num_shards: self.cfg.datalog_shards,
                            instance_id: h >> 1,
                        },
                        markers: (0..self.cfg.datalog_shards)
                            .map(|k| KeyVal {
                                key: k,
                                val: marker(k),
                            })
                            .collect(),
                    },
                    full_sync: FullSync {
                        total: 0,
                        complete: 0,
                    },
                }))
            }
        }
    }

    fn bucket_header(&self, zone: &str, name: &str, i: usize) -> String {
        let mut s = self.header(zone);
        label(&mut s, "bucket");
        let _ = writeln!(s, ":{name}[{}])", self.instance(i));
        s.push('\n');
        s
    }

    fn bucket_sync_status(&self, zone: &str, bucket: Option<&str>, source: Option<&str>) -> Answer {
        let Some(name) = bucket else {
            return fail(22, "ERROR: bucket not specified");
        };
        let Some(i) = self.bucket_index(name) else {
            return fail(2, &format!("could not get bucket info for bucket={name}"));
        };
        let mut s = self.bucket_header(zone, name, i);
        let sources: Vec<&String> = match source {
            Some(src) => match self.cfg.zones.iter().find(|z| *z == src) {
                Some(z) if z != zone => vec![z],
                _ => {
                    // Pacific: only the header on stdout, the complaint on stderr, exit 0.
                    return Answer {
                        stdout: Stdout::Text(self.bucket_header(zone, name, i)),
                        stderr: format!("WARNING: cannot find source zone id for name={src}\n"),
                        rc: 0,
                    };
                }
            },
            None => self.cfg.zones.iter().filter(|z| *z != zone).collect(),
        };
        let pad16 = " ".repeat(16);
        let total = self.cfg.bucket_shards;
        for src in sources {
            label(&mut s, "source zone");
            let _ = writeln!(s, "{} ({src})", self.zone_id(src).unwrap_or(""));
            label(&mut s, "source bucket");
            let _ = writeln!(s, "{name}:{}", self.instance(i));
            let _ = writeln!(s, "{pad16}full sync: 0/{total} shards");
            let _ = writeln!(s, "{pad16}incremental sync: {total}/{total} shards");
            if self.lags(zone, src) && self.lagging.contains_key(name) {
                let behind = self.behind_shards(name);
                let _ = writeln!(s, "{pad16}bucket is behind on {} shards", behind.len());
                let _ = writeln!(s, "{pad16}behind shards: [{}]", join(&behind));
            } else {
                let _ = writeln!(s, "{pad16}bucket is caught up with source");
            }
        }
        text(s)
    }

    fn bucket_sync_info(&self, zone: &str, bucket: Option<&str>) -> Answer {
        let Some(name) = bucket else {
            return fail(22, "ERROR: bucket not specified");
        };
        let Some(i) = self.bucket_index(name) else {
            return fail(2, &format!("could not get bucket info for bucket={name}"));
        };
        let mut s = self.bucket_header(zone, name, i);
        for (src, id) in self.cfg.zones.iter().zip(&self.zone_ids) {
            if src == zone {
                continue;
            }
            label(&mut s, "source zone");
            let _ = writeln!(s, "{id}");
            label(&mut s, "bucket");
            let _ = writeln!(s, ":{name}[{}])", self.instance(i));
        }
        text(s)
    }

    fn sync_info(&self, zone: &str, bucket: Option<&str>) -> Answer {
        let Some(name) = bucket else {
            return fail(22, "ERROR: bucket not specified");
        };
        let Some(i) = self.bucket_index(name) else {
            return fail(2, &format!("could not get bucket info for bucket={name}"));
        };
        let key = format!("{name}:{}", self.instance(i));
        let pipe = |from: &str, to: &str| Pipe {
            id: "all",
            source: PipeEnd {
                zone: from.to_string(),
                bucket: key.clone(),
            },
            dest: PipeEnd {
                zone: to.to_string(),
                bucket: key.clone(),
            },
            params: PipeParams {
                source: ParamsSource {
                    filter: Filter { tags: Vec::new() },
                },
                dest: Empty {},
                priority: 0,
                mode: "system",
                user: "",
            },
        };
        let others: Vec<&String> = self.cfg.zones.iter().filter(|z| *z != zone).collect();
        text(pretty(&SyncInfo {
            sources: others.iter().map(|o| pipe(o, zone)).collect(),
            dests: others.iter().map(|o| pipe(zone, o)).collect(),
            hints: Hints::default(),
            resolved_hints_1: Hints::default(),
            resolved_hints: Hints::default(),
        }))
    }

    fn period_get(&self) -> String {
        let endpoint = |k: usize| vec![format!("http://127.0.0.1:{}", 8001 + k)];
        let zones: Vec<ZoneJson> = self
            .cfg
            .zones
            .iter()
            .zip(&self.zone_ids)
            .enumerate()
            .map(|(k, (name, id))| ZoneJson {
                id: id.clone(),
                name: name.clone(),
                endpoints: endpoint(k),
                log_meta: "false",
                log_data: "true",
                bucket_index_max_shards: self.cfg.bucket_shards,
                read_only: "false",
                tier_type: "",
                sync_from_all: "true",
                sync_from: Vec::new(),
                redirect_zone: "",
            })
            .collect();
        let quota = || Quota {
            enabled: false,
            check_on_raw: false,
            max_size: -1,
            max_size_kb: 0,
            max_objects: -1,
        };
        pretty(&PeriodJson {
            id: self.period_id.clone(),
            epoch: 1 + self.cfg.zones.len() as u32,
            predecessor_uuid: self.predecessor.clone(),
            sync_status: Vec::new(),
            period_map: PeriodMap {
                id: self.period_id.clone(),
                zonegroups: vec![ZoneGroupJson {
                    id: self.zonegroup_id.clone(),
                    name: self.cfg.zonegroup.clone(),
                    api_name: self.cfg.zonegroup.clone(),
                    is_master: "true",
                    endpoints: endpoint(0),
                    hostnames: Vec::new(),
                    hostnames_s3website: Vec::new(),
                    master_zone: self.master_id().to_string(),
                    zones,
                    placement_targets: vec![PlacementTarget {
                        name: "default-placement",
                        tags: Vec::new(),
                        storage_classes: vec!["STANDARD"],
                    }],
                    default_placement: "default-placement",
                    realm_id: self.realm_id.clone(),
                    sync_policy: SyncPolicy { groups: Vec::new() },
                }],
                short_zone_ids: self
                    .zone_ids
                    .iter()
                    .map(|id| KeyVal {
                        key: id.clone(),
                        val: (fnv(id.as_bytes()) >> 32) as u32,
                    })
                    .collect(),
            },
            master_zonegroup: self.zonegroup_id.clone(),
            master_zone: self.master_id().to_string(),
            period_config: PeriodConfig {
                bucket_quota: quota(),
                user_quota: quota(),
            },
            realm_id: self.realm_id.clone(),
            realm_name: self.cfg.realm.clone(),
            realm_epoch: 2,
        })
    }

    /// One bucket's `bucket stats` object, every line prefixed by `pad` (list mode indents
    /// by 4). Written by hand rather than through serde: 100,000 of them must take well
    /// under a second.
    pub fn bucket_stats_one(&self, i: usize, zone: &str, pad: &str) -> String {
        let mut s = String::with_capacity(1800);
        self.write_bucket_stats(&mut s, i, zone, pad);
        s
    }

    fn write_bucket_stats(&self, out: &mut String, i: usize, zone: &str, pad: &str) {
        // Written at indent 0, then re-indented: far cheaper than a padding argument per
        // line through the formatting machinery.
        let mut s = String::with_capacity(1800);
        let name = bucket_name(i);
        let inst = self.instance(i);
        let h = mix2(self.cfg.seed ^ 0xb5, i as u64);
        let shards = self.cfg.bucket_shards;
        let mut ver = String::with_capacity(8 * shards as usize);
        let mut master_ver = String::with_capacity(5 * shards as usize);
        let mut max_marker = String::with_capacity(24 * shards as usize);
        for k in 0..shards {
            if k > 0 {
                ver.push(',');
                master_ver.push(',');
                max_marker.push(',');
            }
            let hk = mix2(h, u64::from(k));
            let v = 1 + hk % 40;
            push_u64(&mut ver, u64::from(k), 0);
            ver.push('#');
            push_u64(&mut ver, v, 0);
            push_u64(&mut master_ver, u64::from(k), 0);
            master_ver.push_str("#0");
            push_u64(&mut max_marker, u64::from(k), 0);
            max_marker.push('#');
            if !hk.is_multiple_of(7) {
                push_u64(&mut max_marker, v - 1, 11);
                max_marker.push('.');
                push_u64(&mut max_marker, (hk >> 16) % 2000, 0);
                max_marker.push_str(".6");
            }
        }
        let created = BASE_TIME - 86_400.0 * 30.0
            + (h % (86_400 * 29)) as f64
            + ((h >> 32) % 1_000_000) as f64 / 1e6;
        let mtime = created + ((h >> 12) % 4000) as f64 / 1e6;
        let kv = |s: &mut String, key: &str, val: &str| {
            s.push_str("    \"");
            s.push_str(key);
            s.push_str("\": \"");
            s.push_str(val);
            s.push_str("\",\n");
        };
        s.push_str("{\n");
        kv(&mut s, "bucket", &name);
        s.push_str("    \"num_shards\": ");
        push_u64(&mut s, u64::from(shards), 0);
        s.push_str(",\n");
        kv(&mut s, "tenant", "");
        kv(&mut s, "zonegroup", &self.zonegroup_id);
        kv(&mut s, "placement_rule", "default-placement");
        s.push_str(
            "    \"explicit_placement\": {\n        \"data_pool\": \"\",\n        \"data_extra_pool\": \"\",\n        \"index_pool\": \"\"\n    },\n",
        );
        kv(&mut s, "id", &inst);
        kv(&mut s, "marker", &inst);
        kv(&mut s, "index_type", "Normal");
        kv(&mut s, "owner", "tester");
        kv(&mut s, "ver", &ver);
        kv(&mut s, "master_ver", &master_ver);
        kv(&mut s, "mtime", &json_time(mtime));
        kv(&mut s, "creation_time", &json_time(created));
        kv(&mut s, "max_marker", &max_marker);
        match self.usage(i, zone) {
            None => s.push_str("    \"usage\": {},\n"),
            Some(u) => {
                let kb = u.size.div_ceil(1024);
                s.push_str("    \"usage\": {\n        \"rgw.main\": {\n");
                for (key, v, last) in [
                    ("size", u.size, false),
                    ("size_actual", u.size_actual, false),
                    ("size_utilized", u.size, false),
                    ("size_kb", kb, false),
                    ("size_kb_actual", u.size_actual / 1024, false),
                    ("size_kb_utilized", kb, false),
                    ("num_objects", u.objects, true),
                ] {
                    s.push_str("            \"");
                    s.push_str(key);
                    s.push_str("\": ");
                    push_u64(&mut s, v, 0);
                    s.push_str(if last { "\n" } else { ",\n" });
                }
                s.push_str("        }\n    },\n");
            }
        }
        s.push_str(
            "    \"bucket_quota\": {\n        \"enabled\": false,\n        \"check_on_raw\": false,\n        \"max_size\": -1,\n        \"max_size_kb\": 0,\n        \"max_objects\": -1\n    }\n}",
        );
        if pad.is_empty() {
            out.push_str(&s);
            return;
        }
        for (n, line) in s.split('\n').enumerate() {
            if n > 0 {
                out.push('\n');
            }
            out.push_str(pad);
            out.push_str(line);
        }
    }

    /// Writes `bucket stats` of every bucket (list mode) to `w`.
    pub fn write_bucket_stats_all(&self, zone: &str, w: &mut dyn Write) -> std::io::Result<()> {
        if self.cfg.buckets == 0 {
            return w.write_all(b"[]\n");
        }
        let mut chunk = String::with_capacity(1 << 20);
        chunk.push_str("[\n");
        for i in 0..self.cfg.buckets {
            if i > 0 {
                chunk.push_str(",\n");
            }
            self.write_bucket_stats(&mut chunk, i, zone, "    ");
            if chunk.len() > (1 << 20) - 4096 {
                w.write_all(chunk.as_bytes())?;
                chunk.clear();
            }
        }
        chunk.push_str("\n]\n");
        w.write_all(chunk.as_bytes())
    }

    /// What `bucket stats` of a zone depends on, for its cache file name.
    pub fn stats_cache_key(&self, zone: &str) -> u64 {
        let c = &self.cfg;
        let lagging: Vec<&str> = self.lagging.keys().map(String::as_str).collect();
        let desc = format!(
            "v1|{}|{}|{}|{}|{}|{}|{}|{}|{}",
            c.buckets,
            c.bucket_shards,
            c.seed,
            c.zones.join(","),
            c.lagging_zones.join(","),
            c.realm,
            c.zonegroup,
            lagging.join(","),
            zone
        );
        fnv(desc.as_bytes())
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.cfg
            .cache_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("sim-radosgw-admin-cache"))
    }

    /// `bucket stats` of a whole zone: generated once per state into the cache directory
    /// (write, then rename, so concurrent calls never read half a file), then copied.
    fn bucket_stats_all(&self, zone: &str) -> Answer {
        let dir = self.cache_dir();
        let path = dir.join(format!(
            "bucket-stats-{zone}-{:016x}.json",
            self.stats_cache_key(zone)
        ));
        if path.is_file() {
            return Answer {
                stdout: Stdout::File(path),
                stderr: String::new(),
                rc: 0,
            };
        }
        let made = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
            {
                let f = std::fs::File::create(&tmp)?;
                let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
                self.write_bucket_stats_all(zone, &mut w)?;
                w.flush()?;
            }
            std::fs::rename(&tmp, &path)
        })();
        match made {
            Ok(()) => Answer {
                stdout: Stdout::File(path),
                stderr: String::new(),
                rc: 0,
            },
            Err(e) => {
                // No cache: generate in memory.
                let mut buf = Vec::new();
                let _ = self.write_bucket_stats_all(zone, &mut buf);
                Answer {
                    stdout: Stdout::Text(String::from_utf8(buf).unwrap_or_default()),
                    stderr: format!("sim-radosgw-admin: cache {}: {e}\n", dir.display()),
                    rc: 0,
                }
            }
        }
    }
}

/// Decimal digits of `n`, zero-padded to `width`, without the formatting machinery.
fn push_u64(s: &mut String, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        if let Some(b) = buf.get_mut(at) {
            *b = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = at.min(buf.len().saturating_sub(width));
    s.push_str(std::str::from_utf8(buf.get(start..).unwrap_or_default()).unwrap_or_default());
}

pub fn bucket_name(i: usize) -> String {
    format!("bucket-{i:06}")
}

fn join(v: impl IntoIterator<Item = impl std::borrow::Borrow<u32>>) -> String {
    let parts: Vec<String> = v.into_iter().map(|x| x.borrow().to_string()).collect();
    parts.join(",")
}

// ---------------------------------------------------------------------------------------
// JSON shapes, fields in Ceph's order
// ---------------------------------------------------------------------------------------

#[derive(Serialize)]
struct ErrorShard {
    shard_id: u32,
    entries: Vec<ErrorJson>,
}

#[derive(Serialize)]
struct ErrorJson {
    id: String,
    section: &'static str,
    name: String,
    timestamp: String,
    info: ErrorInfo,
}

#[derive(Serialize)]
struct ErrorInfo {
    source_zone: String,
    error_code: i32,
    message: &'static str,
}

#[derive(Serialize)]
struct DataMarker {
    status: &'static str,
    marker: String,
    next_step_marker: &'static str,
    total_entries: u64,
    pos: u64,
    timestamp: String,
}

#[derive(Serialize)]
struct DataShard {
    shard_id: u32,
    marker: DataMarker,
    pending_buckets: Vec<String>,
    recovering_buckets: Vec<String>,
}

#[derive(Serialize)]
struct DataStatus {
    sync_status: DataSyncStatus,
    full_sync: FullSync,
}

#[derive(Serialize)]
struct DataSyncStatus {
    info: DataInfo,
    markers: Vec<KeyVal<u32, DataMarker>>,
}

#[derive(Serialize)]
struct DataInfo {
    status: &'static str,
    num_shards: u32,
    instance_id: u64,
}

#[derive(Serialize)]
struct FullSync {
    total: u64,
    complete: u64,
}

#[derive(Serialize)]
struct KeyVal<K, V> {
    key: K,
    val: V,
}

#[derive(Serialize)]
struct PipeEnd {
    zone: String,
    bucket: String,
}

#[derive(Serialize)]
struct Filter {
    tags: Vec<String>,
}

#[derive(Serialize)]
struct ParamsSource {
    filter: Filter,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct PipeParams {
    source: ParamsSource,
    dest: Empty,
    priority: i32,
    mode: &'static str,
    user: &'static str,
}

#[derive(Serialize)]
struct Pipe {
    id: &'static str,
    source: PipeEnd,
    dest: PipeEnd,
    params: PipeParams,
}

#[derive(Serialize, Default)]
struct Hints {
    sources: Vec<String>,
    dests: Vec<String>,
}

#[derive(Serialize)]
struct SyncInfo {
    sources: Vec<Pipe>,
    dests: Vec<Pipe>,
    hints: Hints,
    #[serde(rename = "resolved-hints-1")]
    resolved_hints_1: Hints,
    #[serde(rename = "resolved-hints")]
    resolved_hints: Hints,
}

#[derive(Serialize)]
struct ZoneJson {
    id: String,
    name: String,
    endpoints: Vec<String>,
    log_meta: &'static str,
    log_data: &'static str,
    bucket_index_max_shards: u32,
    read_only: &'static str,
    tier_type: &'static str,
    sync_from_all: &'static str,
    sync_from: Vec<String>,
    redirect_zone: &'static str,
}

#[derive(Serialize)]
struct PlacementTarget {
    name: &'static str,
    tags: Vec<String>,
    storage_classes: Vec<&'static str>,
}

#[derive(Serialize)]
struct SyncPolicy {
    groups: Vec<String>,
}

#[derive(Serialize)]
struct ZoneGroupJson {
    id: String,
    name: String,
    api_name: String,
    is_master: &'static str,
    endpoints: Vec<String>,
    hostnames: Vec<String>,
    hostnames_s3website: Vec<String>,
    master_zone: String,
    zones: Vec<ZoneJson>,
    placement_targets: Vec<PlacementTarget>,
    default_placement: &'static str,
    realm_id: String,
    sync_policy: SyncPolicy,
}

#[derive(Serialize)]
struct PeriodMap {
    id: String,
    zonegroups: Vec<ZoneGroupJson>,
    short_zone_ids: Vec<KeyVal<String, u32>>,
}

#[derive(Serialize)]
struct Quota {
    enabled: bool,
    check_on_raw: bool,
    max_size: i64,
    max_size_kb: u64,
    max_objects: i64,
}

#[derive(Serialize)]
struct PeriodConfig {
    bucket_quota: Quota,
    user_quota: Quota,
}

#[derive(Serialize)]
struct PeriodJson {
    id: String,
    epoch: u32,
    predecessor_uuid: String,
    sync_status: Vec<String>,
    period_map: PeriodMap,
    master_zonegroup: String,
    master_zone: String,
    period_config: PeriodConfig,
    realm_id: String,
    realm_name: String,
    realm_epoch: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rgw_multisite::parse::bucket_stats::parse_bucket_stats;
    use rgw_multisite::parse::bucket_sync_status::parse_bucket_sync_status;
    use rgw_multisite::parse::data_sync_status::parse_data_sync_shard;
    use rgw_multisite::parse::period::parse_period;
    use rgw_multisite::parse::sync_errors::parse_sync_error_list;
    use rgw_multisite::parse::sync_info::parse_sync_info;
    use rgw_multisite::parse::sync_status::parse_sync_status;

    fn capture(scenario: &str, slug: &str) -> String {
        let p = format!(
            "{}/../tests/fixtures/radosgw-admin/{scenario}/{slug}.stdout",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn sim(set: &[(&str, &str)]) -> Sim {
        let mut c = SimConfig {
            latency_ms: 0.0,
            ..SimConfig::default()
        };
        for (k, v) in set {
            c.set(k, v).unwrap();
        }
        Sim::new(c)
    }

    fn run(s: &Sim, args: &str) -> (String, String, Rc) {
        let argv: Vec<String> = args.split_whitespace().map(str::to_string).collect();
        let a = s.answer(&parse_call(&argv));
        let out = match a.stdout {
            Stdout::Text(t) => t,
            Stdout::File(p) => std::fs::read_to_string(p).unwrap(),
        };
        (out, a.stderr, a.rc)
    }

    fn out(s: &Sim, args: &str) -> String {
        let (o, e, rc) = run(s, args);
        assert_eq!(rc, 0, "{args}: {e}");
        o
    }

    fn is_uuid_at(b: &[u8], i: usize) -> bool {
        let groups = [8, 4, 4, 4, 12];
        let mut j = i;
        for (n, g) in groups.iter().enumerate() {
            for _ in 0..*g {
                match b.get(j) {
                    Some(c) if c.is_ascii_hexdigit() => j += 1,
                    _ => return false,
                }
            }
            if n < 4 {
                if b.get(j) != Some(&b'-') {
                    return false;
                }
                j += 1;
            }
        }
        true
    }

    /// The shape of an output, values blanked: UUIDs, numbers, string values and the given
    /// bucket names; list lengths and repeated lines collapsed; trailing commas dropped.
    fn skeleton(text: &str, names: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for line in text.lines() {
            let mut l = line.to_string();
            for n in names {
                l = l.replace(n, "B");
            }
            // UUIDs -> U
            let b = l.as_bytes().to_vec();
            let mut s = String::new();
            let mut i = 0;
            while i < b.len() {
                if is_uuid_at(&b, i) {
                    s.push('U');
                    i += 36;
                } else {
                    s.push(b[i] as char);
                    i += 1;
                }
            }
            let mut l = s.trim_end_matches(',').to_string();
            // JSON `"key": value` and bare strings.
            let t = l.trim_start();
            let indent = &l[..l.len() - t.len()];
            if let Some((k, v)) = t.split_once("\": ") {
                let v = match v.chars().next() {
                    Some('"') => "\"S\"".to_string(),
                    Some(c) if c.is_ascii_digit() || c == '-' => "N".to_string(),
                    _ => v.to_string(),
                };
                l = format!("{indent}{k}\": {v}");
            } else if t.starts_with('"') {
                l = format!("{indent}\"S\"");
            }
            // Digit runs -> 0, then lists of them -> one.
            let mut s = String::new();
            let mut prev_digit = false;
            for c in l.chars() {
                if c.is_ascii_digit() {
                    if !prev_digit {
                        s.push('0');
                    }
                    prev_digit = true;
                } else {
                    s.push(c);
                    prev_digit = false;
                }
            }
            while s.contains("0,0") {
                s = s.replace("0,0", "0");
            }
            if out.last() != Some(&s) {
                out.push(s);
            }
        }
        out
    }

    const WEST: &str = "--rgw-zone=us-west";

    #[test]
    fn datalog_shards_follow_ceph_choose_oid() {
        // pacific-behind: bucket-1's index shards 0 and 8 are pending in datalog shard 1
        // and shard 2 in shard 3 (8 datalog shards); load-1's shard 0 is in shard 3.
        assert_eq!(datalog_shard("bucket-1", 0, 8), 1);
        assert_eq!(datalog_shard("bucket-1", 8, 8), 1);
        assert_eq!(datalog_shard("bucket-1", 2, 8), 3);
        assert_eq!(datalog_shard("load-1", 0, 8), 3);
        assert_eq!(datalog_shard("load-1", 5, 8), 0);
        assert_eq!(datalog_shard("load-2", 4, 8), 7);
    }

    #[test]
    fn times_print_like_ceph() {
        assert_eq!(
            json_time(1_795_300_661.518_646),
            "2026-11-21T22:37:41.518646Z"
        );
        assert_eq!(
            text_time(BASE_TIME + 0.25),
            "2026-11-22T00:00:00.250000+0000"
        );
        assert_eq!(json_time(951_782_400.0), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn config_round_trips_and_env_style_keys_work() {
        let mut c = SimConfig::default();
        for (k, v) in [
            ("buckets", "100000"),
            ("zones", "a,b,c"),
            (
                "lagging_buckets",
                "bucket-000007@1795305600.5,bucket-000009",
            ),
            ("cache_dir", "/tmp/x"),
            ("log", "/tmp/calls.log"),
        ] {
            c.set(k, v).unwrap();
        }
        assert_eq!(SimConfig::parse(&c.to_text()).unwrap(), c);
        assert_eq!(
            c.lagging_buckets,
            vec![
                ("bucket-000007".to_string(), Some(1_795_305_600.5)),
                ("bucket-000009".to_string(), None)
            ]
        );
        assert!(SimConfig::parse("nope=1").is_err());
        assert!(SimConfig::parse("buckets=x").is_err());
    }

    #[test]
    fn connection_options_are_ignored_and_the_key_is_the_stubs() {
        let argv: Vec<String> = [
            "-c",
            "/etc/ceph/ceph.conf",
            "--id",
            "rgw-exporter",
            "bucket",
            "sync",
            "status",
            "--source-zone=us-east",
            "--bucket",
            "b1",
            "--rgw-zone=us-west",
            "--client_mount_timeout=30",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let c = parse_call(&argv);
        assert_eq!(
            c.key,
            "bucket sync status --bucket=b1 --rgw-zone=us-west --source-zone=us-east"
        );
        assert_eq!(c.opt("--bucket"), Some("b1"));
    }

    #[test]
    fn caught_up_outputs_have_the_shape_of_the_lab_captures() {
        let s = sim(&[("buckets", "3")]);
        let cap = |slug: &str| capture("pacific-caught-up", slug);
        assert_eq!(
            skeleton(&out(&s, "sync status --rgw-zone=us-west"), &[]),
            skeleton(&cap("sync-status--rgw-zone=us-west"), &[])
        );
        assert_eq!(
            skeleton(
                &out(&s, "bucket sync status --bucket=bucket-000001 --source-zone=us-east --rgw-zone=us-west"),
                &["bucket-000001"]
            ),
            skeleton(
                &cap("bucket-sync-status--bucket=bucket-2--rgw-zone=us-west--source-zone=us-east"),
                &["bucket-2"]
            )
        );
        assert_eq!(
            skeleton(
                &out(
                    &s,
                    "bucket sync info --bucket=bucket-000001 --rgw-zone=us-west"
                ),
                &["bucket-000001"]
            ),
            skeleton(
                &cap("bucket-sync-info--bucket=bucket-2--rgw-zone=us-west"),
                &["bucket-2"]
            )
        );
        assert_eq!(
            skeleton(
                &out(&s, "sync info --bucket=bucket-000001 --rgw-zone=us-east"),
                &["bucket-000001"]
            ),
            skeleton(
                &cap("sync-info--bucket=bucket-2--rgw-zone=us-east"),
                &["bucket-2"]
            )
        );
        assert_eq!(
            skeleton(&out(&s, "period get --rgw-zone=us-east"), &[]),
            skeleton(&cap("period-get--rgw-zone=us-east"), &[])
        );
        assert_eq!(
            skeleton(&out(&s, "bucket list --rgw-zone=us-west"), &[]),
            skeleton(&cap("bucket-list--rgw-zone=us-west"), &[])
        );
        assert_eq!(
            skeleton(
                &out(
                    &s,
                    "sync error list --shard-id=3 --max-entries=1000 --rgw-zone=us-west"
                ),
                &[]
            ),
            skeleton(
                &cap("sync-error-list--max-entries=1000--rgw-zone=us-west--shard-id=3"),
                &[]
            )
        );
        assert_eq!(
            skeleton(
                &out(&s, "bucket stats --bucket=bucket-000001 --rgw-zone=us-west"),
                &[]
            ),
            skeleton(&cap("bucket-stats--bucket=bucket-2--rgw-zone=us-west"), &[])
        );
        // List mode: three non-empty buckets, as in the capture.
        assert!((0..3).all(|i| s.usage(i, "us-east").is_some()));
        assert_eq!(
            skeleton(&out(&s, "bucket stats --rgw-zone=us-east"), &[]),
            skeleton(&cap("bucket-stats--rgw-zone=us-east"), &[])
        );
        assert_eq!(out(&s, "--version"), format!("{VERSION}\n"));
    }

    #[test]
    fn lagging_outputs_have_the_shape_of_the_lab_captures() {
        let s = sim(&[("buckets", "1000"), ("lagging_buckets", "bucket-000700")]);
        let cap = |slug: &str| capture("pacific-behind", slug);
        // The data block of a behind source (the capture's metadata was behind too).
        let data = |t: &str| {
            let from = t.find("      data sync").unwrap();
            skeleton(&t[from..], &[])
        };
        assert_eq!(
            data(&out(&s, "sync status --rgw-zone=us-west")),
            data(&cap("sync-status--rgw-zone=us-west"))
        );
        assert_eq!(
            skeleton(
                &out(&s, "bucket sync status --bucket=bucket-000700 --source-zone=us-east --rgw-zone=us-west"),
                &["bucket-000700"]
            ),
            skeleton(
                &cap("bucket-sync-status--bucket=bucket-1--rgw-zone=us-west--source-zone=us-east"),
                &["bucket-1"]
            )
        );
        let shard = datalog_shard("bucket-000700", s.behind_shards("bucket-000700")[0], 128);
        assert_eq!(
            skeleton(
                &out(
                    &s,
                    &format!("data sync status --source-zone=us-east --shard-id={shard} {WEST}")
                ),
                &[]
            ),
            skeleton(
                &cap("data-sync-status--rgw-zone=us-west--shard-id=0--source-zone=us-east"),
                &[]
            )
        );
        // Unknown buckets fail as 16.2.15 does.
        let (o, e, rc) = run(&s, "bucket sync status --bucket=nope --source-zone=us-east");
        assert_eq!(
            (o.as_str(), e.as_str(), rc),
            ("", "could not get bucket info for bucket=nope\n", 2)
        );
        let (_, e, rc) = run(&s, "bucket stats --bucket=nope");
        assert_eq!(
            (e.as_str(), rc),
            ("failure: (2002) Unknown error 2002: \n", 210)
        );
    }

    #[test]
    fn error_entries_have_the_shape_of_the_lab_captures_and_page_by_marker() {
        let s = sim(&[("buckets", "100"), ("errors", "200")]);
        let cap = capture(
            "pacific-sync-errors",
            "sync-error-list--max-entries=1000--rgw-zone=us-west--shard-id=12",
        );
        let mine = s.errors("us-west");
        let shard = mine
            .iter()
            .find(|e| e.message.contains("instance"))
            .unwrap()
            .shard;
        let one = out(
            &s,
            &format!("sync error list --shard-id={shard} --max-entries=1 {WEST}"),
        );
        assert_eq!(skeleton(&one, &[]), skeleton(&cap, &[]));
        let full = out(
            &s,
            &format!("sync error list --shard-id={shard} --max-entries=1000 {WEST}"),
        );
        // Paging: two entries at a time, each page after the last id of the one before.
        let want: Vec<String> = parse_sync_error_list(&full).unwrap()[0]
            .entries
            .iter()
            .map(|e| e.id.clone())
            .collect();
        assert!(want.len() > 3, "{want:?}");
        let mut got = Vec::new();
        let mut marker = String::new();
        loop {
            let m = if marker.is_empty() {
                String::new()
            } else {
                format!("--marker={marker}")
            };
            let page = out(
                &s,
                &format!("sync error list --shard-id={shard} --max-entries=2 {m} {WEST}"),
            );
            let ids: Vec<String> = parse_sync_error_list(&page).unwrap()[0]
                .entries
                .iter()
                .map(|e| e.id.clone())
                .collect();
            got.extend(ids.clone());
            if ids.len() < 2 {
                break;
            }
            marker = ids.last().unwrap().clone();
        }
        assert_eq!(got, want);
        // Every entry is in exactly one shard; the master's log is empty.
        let total: usize = (0..ERROR_LOG_SHARDS)
            .map(|k| {
                parse_sync_error_list(&out(&s, &format!("sync error list --shard-id={k} {WEST}")))
                    .unwrap()[0]
                    .entries
                    .len()
            })
            .sum();
        assert_eq!(total, 200);
        assert!(s.errors("us-east").is_empty());
    }

    #[test]
    fn the_exporters_parsers_read_what_a_lagging_bucket_looks_like() {
        let s = sim(&[
            ("buckets", "5000"),
            ("zones", "us-east,us-west,us-central"),
            ("lagging", "4"),
            (
                "lagging_buckets",
                &format!("bucket-004321@{}", BASE_TIME + 100.0),
            ),
        ]);
        assert_eq!(s.lagging().len(), 5);
        // sync status names every datalog shard of every lagging bucket's behind shards.
        let st = parse_sync_status(&out(&s, "sync status --rgw-zone=us-west")).unwrap();
        assert_eq!(st.sources.len(), 2);
        let east = st
            .sources
            .iter()
            .find(|x| x.name.as_deref() == Some("us-east"))
            .unwrap();
        let central = st
            .sources
            .iter()
            .find(|x| x.name.as_deref() == Some("us-central"))
            .unwrap();
        let (want, _) = s.behind_datalog_shards("us-west", "us-east");
        assert_eq!(
            east.progress
                .behind_shards
                .iter()
                .copied()
                .collect::<BTreeSet<_>>(),
            want
        );
        assert!(central.progress.behind_shards.is_empty());
        // Those shards list the buckets, and nothing else.
        let mut found = BTreeSet::new();
        for shard in &want {
            let d = parse_data_sync_shard(&out(
                &s,
                &format!("data sync status --source-zone=us-east --shard-id={shard} {WEST}"),
            ))
            .unwrap();
            found.extend(d.pending_buckets.into_iter().map(|b| b.bucket));
        }
        assert_eq!(found, s.lagging().keys().cloned().collect());
        // bucket sync status: behind from the master only.
        let b = parse_bucket_sync_status(&out(
            &s,
            &format!("bucket sync status --bucket=bucket-004321 {WEST}"),
        ))
        .unwrap();
        let states: Vec<(String, Option<bool>)> = b
            .sources
            .iter()
            .map(|x| (x.zone_name.clone().unwrap_or_default(), x.caught_up()))
            .collect();
        assert_eq!(
            states,
            vec![
                ("us-east".into(), Some(false)),
                ("us-central".into(), Some(true))
            ]
        );
        // bucket stats: every zone lists every bucket; only lagging ones differ.
        let stats: Vec<BTreeMap<String, u64>> = ["us-east", "us-west", "us-central"]
            .iter()
            .map(|z| {
                parse_bucket_stats(&out(&s, &format!("bucket stats --rgw-zone={z}")))
                    .unwrap()
                    .into_iter()
                    .map(|b| (b.key(), b.objects))
                    .collect()
            })
            .collect();
        assert!(stats.iter().all(|m| m.len() == 5000));
        let differ: BTreeSet<String> = stats[0]
            .iter()
            .filter(|(k, v)| stats[1][*k] != **v)
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(differ, s.lagging().keys().cloned().collect());
        assert_eq!(stats[1], stats[2]);
        assert!(stats[1]["bucket-004321"] * 10 <= stats[0]["bucket-004321"] * 8);
        // The period has the three zones, the first as master; sync info replicates to both.
        let p = parse_period(&out(&s, "period get")).unwrap();
        let names: Vec<String> = p.zones().map(|(_, z)| z.name.clone()).collect();
        assert_eq!(names, ["us-east", "us-west", "us-central"]);
        assert_eq!(p.zone_name(&p.master_zone), Some("us-east"));
        let info = parse_sync_info(&out(
            &s,
            "sync info --bucket=bucket-004321 --rgw-zone=us-east",
        ))
        .unwrap();
        let dests: Vec<String> = info.dests.into_iter().map(|d| d.dest_zone).collect();
        assert_eq!(dests, ["us-west", "us-central"]);
    }

    #[test]
    fn bucket_stats_are_cached_per_state_and_identical_to_fresh_output() {
        let dir = std::env::temp_dir().join(format!("sim-cache-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let d = dir.display().to_string();
        let a = sim(&[("buckets", "50"), ("cache_dir", &d)]);
        let first = out(&a, "bucket stats --rgw-zone=us-west");
        assert_eq!(out(&a, "bucket stats --rgw-zone=us-west"), first);
        let mut fresh = Vec::new();
        a.write_bucket_stats_all("us-west", &mut fresh).unwrap();
        assert_eq!(String::from_utf8(fresh).unwrap(), first);
        // A new lagging bucket is a new state: the master's copy changes, not the old file.
        let b = sim(&[
            ("buckets", "50"),
            ("cache_dir", &d),
            ("lagging_buckets", "bucket-000010"),
        ]);
        assert_ne!(a.stats_cache_key("us-east"), b.stats_cache_key("us-east"));
        assert_ne!(
            out(&b, "bucket stats --rgw-zone=us-east"),
            out(&a, "bucket stats --rgw-zone=us-east")
        );
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn seeded_state_is_deterministic() {
        let a = sim(&[("buckets", "100000"), ("lagging", "10"), ("errors", "20")]);
        let b = sim(&[("buckets", "100000"), ("lagging", "10"), ("errors", "20")]);
        assert_eq!(a.lagging(), b.lagging());
        assert_eq!(a.lagging().len(), 10);
        assert_eq!(a.errors("us-west"), b.errors("us-west"));
        assert_eq!(
            out(&a, "sync status --rgw-zone=us-west"),
            out(&b, "sync status --rgw-zone=us-west")
        );
        let c = sim(&[("buckets", "100000"), ("lagging", "10"), ("seed", "2")]);
        assert_ne!(a.lagging(), c.lagging());
    }
}
