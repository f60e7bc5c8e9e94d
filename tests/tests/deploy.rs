//! Deployment files: docker-compose.yml, the Dockerfile and its build context, the compose
//! helpers under deploy/compose/, the systemd units and the example Prometheus configuration.
//!
//! Docker cannot run where these tests run, so they prove what can be proven without it: the
//! compose file parses; every mounted path, Dockerfile and build target exists; every image is
//! pinned; every flag and RGW_MULTISITE_* variable given to an exporter is one its `--help`
//! lists; Prometheus scrapes services the compose file defines, on the ports they expose, and
//! loads every rule file; the Ceph bootstrap uses the lab's settings; the build context keeps
//! what `cargo build --release --locked` needs. The systemd units go through
//! `systemd-analyze verify` and `systemd-analyze security --offline`, which work without
//! systemd as PID 1. The release build itself is `deploy/build-release` (minutes; CI runs it
//! as its own step, not in `cargo test`).

// A failed expectation is the test failing, with the message given. Indexing is into
// serde_yaml values, where a missing key reads as null; no panic.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_yaml::Value as Yaml;

const COMPOSE: &str = "docker-compose.yml";
const DOCKERFILE: &str = "Dockerfile";
const BOOTSTRAP: &str = "deploy/compose/ceph-bootstrap.sh";
const UNITS: [&str; 2] = [
    "deploy/systemd/rgw-multisite-agent-exporter.service",
    "deploy/systemd/rgw-multisite-exporter.service",
];
/// Scrape jobs the alert rules select (and so every Prometheus configuration must have).
const JOBS: [&str; 2] = ["rgw-multisite-agent", "rgw-multisite-exporter"];

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf()
}

fn read(rel: &str) -> String {
    let p = repo().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn yaml_file(rel: &str) -> Yaml {
    let mut v: Yaml =
        serde_yaml::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: invalid YAML: {e}"));
    // Compose files use YAML merge keys (`<<: *anchor`); Docker Compose applies them.
    v.apply_merge()
        .unwrap_or_else(|e| panic!("{rel}: bad merge key: {e}"));
    v
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("deploy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{cmd:?} failed ({}):\n{text}", out.status))
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn str_of(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn strings(v: &Yaml) -> Vec<String> {
    match v {
        Yaml::Sequence(s) => s.iter().filter_map(str_of).collect(),
        other => str_of(other).into_iter().collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// The exporters' command lines
// ---------------------------------------------------------------------------------------------

/// What one binary accepts, from its `--help`.
#[derive(Debug, Default)]
struct Help {
    flags: BTreeSet<String>,
    env: BTreeSet<String>,
}

fn help_of(binary: &str) -> &'static Help {
    static CACHE: OnceLock<std::sync::Mutex<BTreeMap<String, &'static Help>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(h) = map.get(binary) {
        return h;
    }
    let exe = e2e_tests::binary(binary);
    let text =
        run(Command::new(&exe).arg("--help")).unwrap_or_else(|e| panic!("{binary} --help: {e}"));
    let help: &'static Help = Box::leak(Box::new(parse_help(&text)));
    assert!(
        help.flags.contains("--web.listen-address") && !help.env.is_empty(),
        "{binary} --help does not look like the exporters' help:\n{text}"
    );
    map.insert(binary.to_string(), help);
    help
}

fn parse_help(text: &str) -> Help {
    let mut h = Help::default();
    for word in text.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == '(') {
        if let Some(rest) = word.strip_prefix("--") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                .collect();
            if name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                h.flags.insert(format!("--{name}"));
            }
        }
    }
    for (i, _) in text.match_indices("[env: ") {
        let rest = &text[i + "[env: ".len()..];
        if let Some(end) = rest.find('=') {
            h.env.insert(rest[..end].to_string());
        }
    }
    h
}

/// The flag name of a command-line word: `--a.b=c` -> `--a.b`; None for non-flags.
fn flag_name(word: &str) -> Option<&str> {
    word.starts_with("--")
        .then(|| word.split('=').next().unwrap_or(word))
}

/// Problems with `words` (a command line) and `vars` (environment names) for `binary`.
fn check_invocation(binary: &str, words: &[String], vars: &[String], ctx: &str) -> Vec<String> {
    let help = help_of(binary);
    let mut problems = Vec::new();
    for w in words {
        if let Some(f) = flag_name(w) {
            if !help.flags.contains(f) {
                problems.push(format!("{ctx}: {binary} has no flag {f} (in `{w}`)"));
            }
        }
    }
    for v in vars {
        if v.starts_with("RGW_MULTISITE_") && !help.env.contains(v) {
            problems.push(format!("{ctx}: {binary} reads no environment variable {v}"));
        }
    }
    problems
}

#[test]
fn help_parser_reads_flags_and_variables() {
    let h = parse_help(
        "      --zone <ZONE>\n          The zone\n          [env: RGW_MULTISITE_ZONE=]\n\
         --once\n  -h, --help\n  use --radosgw-admin.command=\"x\" (see --x.y)\n",
    );
    assert_eq!(
        h.flags.iter().map(String::as_str).collect::<Vec<_>>(),
        [
            "--help",
            "--once",
            "--radosgw-admin.command",
            "--x.y",
            "--zone"
        ]
    );
    assert_eq!(
        h.env.iter().map(String::as_str).collect::<Vec<_>>(),
        ["RGW_MULTISITE_ZONE"]
    );
    assert_eq!(flag_name("--a.b=c d"), Some("--a.b"));
    assert_eq!(flag_name("check"), None);
}

// ---------------------------------------------------------------------------------------------
// Dockerfile
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Stage {
    name: Option<String>,
    from: String,
    entrypoint: Vec<String>,
    env: Vec<(String, String)>,
}

#[derive(Debug, Default)]
struct Dockerfile {
    /// `ARG NAME=default` before the first FROM.
    args: BTreeMap<String, String>,
    stages: Vec<Stage>,
    /// Every RUN instruction, continuation lines joined.
    runs: Vec<String>,
}

fn parse_dockerfile(text: &str) -> Dockerfile {
    let mut df = Dockerfile::default();
    let mut logical = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if cur.is_empty() && (t.starts_with('#') || t.is_empty()) {
            continue;
        }
        if let Some(body) = t.strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
        } else {
            cur.push_str(t);
            logical.push(std::mem::take(&mut cur));
        }
    }
    for l in logical {
        let (instr, rest) = l.split_once(' ').unwrap_or((l.as_str(), ""));
        let rest = rest.trim();
        match instr.to_ascii_uppercase().as_str() {
            "ARG" if df.stages.is_empty() => {
                if let Some((k, v)) = rest.split_once('=') {
                    df.args
                        .insert(k.to_string(), v.trim_matches('"').to_string());
                }
            }
            "FROM" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                let words: Vec<&str> = words
                    .into_iter()
                    .filter(|w| !w.starts_with("--platform"))
                    .collect();
                let name = match words.as_slice() {
                    [_, as_, n] if as_.eq_ignore_ascii_case("as") => Some(n.to_string()),
                    _ => None,
                };
                df.stages.push(Stage {
                    name,
                    from: words.first().map(|s| s.to_string()).unwrap_or_default(),
                    ..Stage::default()
                });
            }
            "ENTRYPOINT" => {
                let v: Vec<String> = serde_json::from_str(rest).unwrap_or_else(|e| {
                    panic!("Dockerfile: ENTRYPOINT must be JSON ({e}): {rest}")
                });
                if let Some(s) = df.stages.last_mut() {
                    s.entrypoint = v;
                }
            }
            "ENV" => {
                if let (Some(s), Some((k, v))) = (df.stages.last_mut(), rest.split_once('=')) {
                    s.env.push((k.to_string(), v.trim_matches('"').to_string()));
                }
            }
            "RUN" => df.runs.push(rest.to_string()),
            _ => {}
        }
    }
    df
}

impl Dockerfile {
    /// `${ARG}` in a FROM resolved to the ARG's default.
    fn image_of(&self, stage: &Stage) -> String {
        let f = &stage.from;
        match f.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
            Some(arg) => {
                self.args.get(arg).cloned().unwrap_or_else(|| {
                    panic!("Dockerfile: FROM {f} names an ARG without a default")
                })
            }
            None => f.clone(),
        }
    }

    fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name.as_deref() == Some(name))
    }

    /// The stage and its ancestors within this Dockerfile, nearest first.
    fn lineage<'a>(&'a self, name: &str) -> Vec<&'a Stage> {
        let mut out = Vec::new();
        let mut cur = self.stage(name);
        while let Some(s) = cur {
            out.push(s);
            cur = self.stage(&s.from);
        }
        out
    }

    /// The ENTRYPOINT in effect for a stage (its own or inherited).
    fn entrypoint(&self, name: &str) -> Vec<String> {
        self.lineage(name)
            .into_iter()
            .find(|s| !s.entrypoint.is_empty())
            .map(|s| s.entrypoint.clone())
            .unwrap_or_default()
    }

    /// ENV names in effect for a stage.
    fn env(&self, name: &str) -> Vec<String> {
        self.lineage(name)
            .into_iter()
            .flat_map(|s| s.env.iter().map(|(k, _)| k.clone()))
            .collect()
    }

    /// Images the build pulls: FROM lines that do not name an earlier stage.
    fn images(&self) -> Vec<String> {
        let names: BTreeSet<&str> = self
            .stages
            .iter()
            .filter_map(|s| s.name.as_deref())
            .collect();
        self.stages
            .iter()
            .filter(|s| !names.contains(s.from.as_str()))
            .map(|s| self.image_of(s))
            .collect()
    }
}

fn dockerfile() -> Dockerfile {
    parse_dockerfile(&read(DOCKERFILE))
}

/// Err(why) unless `image` names a fixed version: a digest, or a tag with a digit in it that is
/// not `latest` (so no floating tags like `alpine` or `stable` either).
fn pinned(image: &str) -> Result<(), String> {
    if image.contains('$') {
        return Err(format!("{image}: unresolved variable"));
    }
    if image.contains("@sha256:") {
        return Ok(());
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => Err(format!("{image}: no tag")),
        Some((_, "latest")) => Err(format!("{image}: `latest` is not a version")),
        Some((_, tag)) if !tag.chars().any(|c| c.is_ascii_digit()) => {
            Err(format!("{image}: tag `{tag}` is not a version"))
        }
        Some(_) => Ok(()),
    }
}

#[test]
fn pinned_accepts_versions_only() {
    for ok in [
        "quay.io/ceph/ceph:v16.2.15",
        "docker.io/prom/prometheus:v2.53.2",
        "python:3.12.7-alpine3.20",
        "localhost:5000/x/y:1.0",
        "alpine@sha256:0123",
    ] {
        assert_eq!(pinned(ok), Ok(()), "{ok}");
    }
    for bad in [
        "grafana/grafana",
        "grafana/grafana:latest",
        "rust:alpine",
        "localhost:5000/x/y",
        "${IMAGE}",
    ] {
        assert!(pinned(bad).is_err(), "{bad} passed");
    }
}

#[test]
fn dockerfile_stages_are_pinned_and_ship_both_binaries() {
    let df = dockerfile();
    let mut problems = Vec::new();
    for img in df.images() {
        if let Err(e) = pinned(&img) {
            problems.push(format!("Dockerfile: {e}"));
        }
    }
    // The runtime is an official Ceph image, so radosgw-admin is inside.
    let ceph = df.args.get("CEPH_IMAGE").cloned().unwrap_or_default();
    if !ceph.starts_with("quay.io/ceph/ceph:") {
        problems.push(format!(
            "Dockerfile: CEPH_IMAGE {ceph:?} is not quay.io/ceph/ceph"
        ));
    }
    let rust = df.args.get("RUST_IMAGE").cloned().unwrap_or_default();
    if !rust.contains("/rust:") && !rust.starts_with("rust:") {
        problems.push(format!(
            "Dockerfile: RUST_IMAGE {rust:?} is not the rust image"
        ));
    }
    for (target, bin) in [
        ("agent-exporter", "rgw-multisite-agent-exporter"),
        ("exporter", "rgw-multisite-exporter"),
    ] {
        let ep = df.entrypoint(target);
        if ep.first().map(|p| p.rsplit('/').next().unwrap_or(p)) != Some(bin) {
            problems.push(format!(
                "Dockerfile: target {target} runs {ep:?}, not {bin}"
            ));
        }
    }
    // The same build as deploy/build-release, which CI runs.
    let build = "cargo build --release --locked -p agent-exporter -p exporter";
    if !df.runs.iter().any(|r| r.contains(build)) {
        problems.push(format!("Dockerfile: no RUN with `{build}`"));
    }
    let script = read("deploy/build-release");
    if !script.lines().any(|l| l.trim() == build) {
        problems.push(format!("deploy/build-release does not run `{build}`"));
    }
    // Non-root at run time: the last USER of the runtime is not root.
    let text = read(DOCKERFILE);
    let user = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("USER "))
        .next_back()
        .map(str::trim);
    if matches!(user, None | Some("root") | Some("0")) {
        problems.push(format!(
            "Dockerfile: runs as {user:?}, not a dedicated user"
        ));
    }
    for target in ["agent-exporter", "exporter"] {
        let bin = df.entrypoint(target)[0]
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        problems.extend(check_invocation(
            &bin,
            &[],
            &df.env(target),
            "Dockerfile ENV",
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn build_release_script_is_executable_and_parses() {
    use std::os::unix::fs::PermissionsExt;
    for f in [
        "deploy/build-release",
        BOOTSTRAP,
        "deploy/compose/check-bootstrap",
        "deploy/compose/loadgen.sh",
    ] {
        let p = repo().join(f);
        let mode = std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("{f}: {e}"))
            .permissions()
            .mode();
        assert!(mode & 0o111 != 0, "{f} is not executable");
        run(Command::new("bash").arg("-n").arg(&p)).unwrap_or_else(|e| panic!("{e}"));
    }
}

// ---------------------------------------------------------------------------------------------
// The build context (.dockerignore)
// ---------------------------------------------------------------------------------------------

/// Go's filepath.Match for one path component: `*`, `?`, no classes (not used here).
fn glob_component(pat: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    fn go(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('*', rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
            Some(('?', rest)) => !s.is_empty() && go(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    go(&p, &s)
}

/// A .dockerignore pattern against a path prefix (both split in components); `**` spans any
/// number of components.
fn glob_path(pat: &[&str], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|i| glob_path(rest, &path[i..])),
        Some((p, rest)) => {
            !path.is_empty() && glob_component(p, path[0]) && glob_path(rest, &path[1..])
        }
    }
}

/// Whether Docker leaves `rel` out of the build context: a pattern matches the path or one of
/// its parent directories. Exceptions (`!`) are refused: the matcher does not implement them.
fn docker_ignored(patterns: &[String], rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    patterns.iter().any(|p| {
        assert!(
            !p.starts_with('!'),
            ".dockerignore: exceptions are not supported here: {p}"
        );
        let pp: Vec<&str> = p.trim_matches('/').split('/').collect();
        (1..=parts.len()).any(|n| glob_path(&pp, &parts[..n]))
    })
}

fn dockerignore() -> Vec<String> {
    read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn dockerignore_matcher() {
    let pats: Vec<String> = ["target", "tests/fixtures", "**/*.swp"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(docker_ignored(&pats, "target/release/x"));
    assert!(docker_ignored(&pats, "tests/fixtures/a/b"));
    assert!(docker_ignored(&pats, "a/b/.c.swp"));
    assert!(docker_ignored(&pats, "x.swp"));
    assert!(!docker_ignored(&pats, "tests/src/lib.rs"));
    assert!(!docker_ignored(&pats, "targets/x"));
}

/// Relative paths of the files under `dir` that Docker sends as build context: everything
/// not matched by .dockerignore (ignored directories are not entered).
fn context_files(root: &Path, rel: &str, patterns: &[String], out: &mut Vec<String>) {
    let dir = root.join(rel);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if docker_ignored(patterns, &path) {
            continue;
        }
        match e.file_type() {
            Ok(t) if t.is_dir() => context_files(root, &path, patterns, out),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
}

/// The build context Docker would send (the checkout minus .dockerignore) must still hold a
/// workspace that cargo resolves with `--locked` for the image's target, with both binaries
/// in it; `cargo metadata` proves that in a second instead of the minutes of the release
/// build (deploy/build-release, run by CI).
#[test]
fn build_context_holds_the_workspace() {
    let patterns = dockerignore();
    let mut files = Vec::new();
    context_files(&repo(), "", &patterns, &mut files);
    let ctx = scratch("context");
    for rel in &files {
        let dst = ctx.join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(repo().join(rel), &dst).unwrap_or_else(|e| panic!("copy {rel}: {e}"));
    }
    let kept = files.len();
    for must in [
        "Cargo.toml",
        "Cargo.lock",
        "agent-exporter/src/main.rs",
        "exporter/src/main.rs",
    ] {
        assert!(ctx.join(must).is_file(), ".dockerignore leaves out {must}");
    }
    for gone in ["target", "lab/state", "tests/fixtures", ".git"] {
        assert!(!ctx.join(gone).exists(), ".dockerignore keeps {gone}");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let meta = run(Command::new(cargo)
        .current_dir(&ctx)
        .env("CARGO_TARGET_DIR", ctx.join("target"))
        // The image's target: packages only other platforms need are not downloaded.
        .args(["metadata", "--locked", "--format-version", "1"])
        .args(["--filter-platform", "x86_64-unknown-linux-musl"]))
    .unwrap_or_else(|e| panic!("the build context ({kept} files) does not load: {e}"));
    let meta: serde_json::Value =
        serde_json::from_str(meta.lines().find(|l| l.starts_with('{')).unwrap_or("{}"))
            .expect("cargo metadata JSON");
    let bins: BTreeSet<String> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"))
        })
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    for b in ["rgw-multisite-agent-exporter", "rgw-multisite-exporter"] {
        assert!(
            bins.contains(b),
            "binary {b} not in the build context's workspace: {bins:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&ctx);
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml
// ---------------------------------------------------------------------------------------------

struct Compose {
    doc: Yaml,
}

/// One bind mount or named volume of a service.
#[derive(Debug)]
struct Mount {
    source: String,
    target: String,
}

impl Compose {
    fn load() -> Self {
        let doc = yaml_file(COMPOSE);
        assert!(
            doc["services"].as_mapping().is_some_and(|m| !m.is_empty()),
            "{COMPOSE}: no services"
        );
        Compose { doc }
    }

    fn services(&self) -> Vec<(String, &Yaml)> {
        self.doc["services"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v)))
            .collect()
    }

    fn service(&self, name: &str) -> &Yaml {
        let s = &self.doc["services"][name];
        assert!(s.is_mapping(), "{COMPOSE}: no service {name}");
        s
    }

    fn mounts(svc: &Yaml) -> Vec<Mount> {
        svc["volumes"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|v| match v {
                Yaml::String(s) => {
                    let mut it = s.splitn(3, ':');
                    Mount {
                        source: it.next().unwrap_or_default().to_string(),
                        target: it.next().unwrap_or_default().to_string(),
                    }
                }
                long => Mount {
                    source: str_of(&long["source"]).unwrap_or_default(),
                    target: str_of(&long["target"]).unwrap_or_default(),
                },
            })
            .collect()
    }

    /// Host path of a file seen at `container_path` in `service`, through its bind mounts.
    fn host_path(svc: &Yaml, container_path: &str) -> Option<PathBuf> {
        Self::mounts(svc)
            .into_iter()
            .filter(|m| m.source.starts_with('.') || m.source.starts_with('/'))
            .filter_map(|m| {
                let rest = container_path.strip_prefix(m.target.as_str())?;
                let base = repo().join(&m.source);
                match rest.trim_start_matches('/') {
                    _ if !rest.is_empty() && !rest.starts_with('/') => None,
                    "" => Some(base),
                    r => Some(base.join(r)),
                }
            })
            .max_by_key(|p| p.as_os_str().len())
    }

    /// Container ports a service offers to the others: `expose` and the container side of
    /// `ports`.
    fn ports(svc: &Yaml) -> BTreeSet<u16> {
        let mut out = BTreeSet::new();
        for p in strings(&svc["expose"]) {
            out.extend(p.split('/').next().and_then(|p| p.parse::<u16>().ok()));
        }
        for p in svc["ports"].as_sequence().into_iter().flatten() {
            let container = match p {
                Yaml::Mapping(_) => str_of(&p["target"]),
                other => str_of(other).map(|s| {
                    let s = s.split('/').next().unwrap_or_default().to_string();
                    s.rsplit(':').next().unwrap_or_default().to_string()
                }),
            };
            out.extend(container.and_then(|c| c.parse::<u16>().ok()));
        }
        out
    }

    /// The binary a built service runs: its build target's ENTRYPOINT in the Dockerfile.
    fn binary(svc: &Yaml, df: &Dockerfile) -> Option<String> {
        let target = svc["build"]["target"].as_str()?;
        let ep = df.entrypoint(target);
        ep.first()
            .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
    }
}

#[test]
fn compose_defines_the_whole_stack() {
    let c = Compose::load();
    let names: BTreeSet<String> = c.services().into_iter().map(|(n, _)| n).collect();
    for want in [
        "ceph",
        "agent-exporter",
        "exporter",
        "prometheus",
        "alertmanager",
        "webhook",
        "grafana",
        "loadgen",
    ] {
        assert!(
            names.contains(want),
            "{COMPOSE}: no service {want}: {names:?}"
        );
    }
    // Grafana's provisioned datasource points at http://prometheus:9090.
    let ds = yaml_file("grafana/provisioning/datasources/prometheus.yml");
    let url = ds["datasources"][0]["url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let hostport = url.trim_start_matches("http://").trim_end_matches('/');
    let (host, port) = hostport
        .split_once(':')
        .expect("datasource url with a port");
    assert!(names.contains(host), "datasource {url}: no service {host}");
    assert!(
        Compose::ports(c.service(host)).contains(&port.parse().unwrap()),
        "datasource {url}: service {host} does not expose {port}"
    );
    assert!(
        Compose::ports(c.service("grafana")).contains(&3000),
        "grafana does not expose 3000"
    );
}

#[test]
fn compose_references_exist() {
    let c = Compose::load();
    let declared: BTreeSet<String> = c.doc["volumes"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.as_str().map(str::to_string))
        .collect();
    let services: BTreeSet<String> = c.services().into_iter().map(|(n, _)| n).collect();
    let df = dockerfile();
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    for (name, svc) in c.services() {
        for m in Compose::mounts(svc) {
            if m.source.starts_with('.') || m.source.starts_with('/') {
                if !repo().join(&m.source).exists() {
                    problems.push(format!("{name}: mounts {}, which does not exist", m.source));
                }
            } else if !declared.contains(&m.source) {
                problems.push(format!("{name}: volume {} is not declared", m.source));
            } else {
                used.insert(m.source.clone());
            }
            if !m.target.starts_with('/') {
                problems.push(format!(
                    "{name}: mount target {:?} is not absolute",
                    m.target
                ));
            }
        }
        let build = &svc["build"];
        if !build.is_null() {
            let ctx = repo().join(build["context"].as_str().unwrap_or("."));
            let file = ctx.join(build["dockerfile"].as_str().unwrap_or("Dockerfile"));
            if !file.is_file() {
                problems.push(format!("{name}: no Dockerfile {}", file.display()));
            }
            match build["target"].as_str() {
                Some(t) if df.stage(t).is_some() => {}
                t => problems.push(format!(
                    "{name}: build target {t:?} is not a Dockerfile stage"
                )),
            }
            if Compose::binary(svc, &df).is_none() {
                problems.push(format!("{name}: its build target has no ENTRYPOINT"));
            }
        } else if svc["image"].as_str().is_none() {
            problems.push(format!("{name}: neither image nor build"));
        }
        let deps: Vec<String> = match &svc["depends_on"] {
            Yaml::Mapping(m) => m
                .keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect(),
            other => strings(other),
        };
        let net = svc["network_mode"]
            .as_str()
            .and_then(|n| n.strip_prefix("service:"));
        for d in deps.iter().map(String::as_str).chain(net) {
            if !services.contains(d) {
                problems.push(format!("{name}: depends on unknown service {d}"));
            }
        }
    }
    for v in declared.difference(&used) {
        problems.push(format!("volume {v} is declared but mounted nowhere"));
    }
    assert!(problems.is_empty(), "{COMPOSE}:\n{}", problems.join("\n"));
}

#[test]
fn compose_images_are_pinned_and_ceph_matches_the_exporters_image() {
    let c = Compose::load();
    let df = dockerfile();
    let mut problems = Vec::new();
    let mut ceph_images = BTreeSet::new();
    for (name, svc) in c.services() {
        if let Some(img) = svc["image"].as_str() {
            if let Err(e) = pinned(img) {
                problems.push(format!("{name}: {e}"));
            }
            if img.starts_with("quay.io/ceph/ceph") {
                ceph_images.insert(img.to_string());
            }
        }
        if !svc["build"].is_null() {
            // A build arg overrides the Dockerfile's default; either way it is the image used.
            let arg = str_of(&svc["build"]["args"]["CEPH_IMAGE"])
                .or_else(|| df.args.get("CEPH_IMAGE").cloned())
                .unwrap_or_default();
            if let Err(e) = pinned(&arg) {
                problems.push(format!("{name}: CEPH_IMAGE {e}"));
            }
            ceph_images.insert(arg);
        }
    }
    // radosgw-admin in the exporters' image must be the cluster's release.
    if ceph_images.len() != 1 {
        problems.push(format!(
            "the Ceph service and the exporters' CEPH_IMAGE differ: {ceph_images:?}"
        ));
    }
    if ceph_images.iter().next() != df.args.get("CEPH_IMAGE") {
        problems.push(format!(
            "compose uses {ceph_images:?} but the Dockerfile defaults to {:?}",
            df.args.get("CEPH_IMAGE")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn compose_gives_the_exporters_only_flags_they_have() {
    let c = Compose::load();
    let df = dockerfile();
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    for (name, svc) in c.services() {
        let Some(bin) = Compose::binary(svc, &df) else {
            continue;
        };
        let words = strings(&svc["command"]);
        let mut vars: Vec<String> = match &svc["environment"] {
            Yaml::Mapping(m) => m
                .keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect(),
            other => strings(other)
                .into_iter()
                .map(|kv| kv.split('=').next().unwrap_or_default().to_string())
                .collect(),
        };
        vars.sort();
        problems.extend(check_invocation(
            &bin,
            &words,
            &vars,
            &format!("service {name}"),
        ));
        // It listens where the compose file says it does.
        let listen = words
            .iter()
            .find_map(|w| w.strip_prefix("--web.listen-address="))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("service {name}: no --web.listen-address= in command"));
        let port: u16 = listen.rsplit(':').next().unwrap().parse().unwrap();
        if !Compose::ports(svc).contains(&port) {
            problems.push(format!(
                "service {name} listens on {listen} but does not expose {port}"
            ));
        }
        checked.push(bin);
    }
    checked.sort();
    assert_eq!(
        checked,
        ["rgw-multisite-agent-exporter", "rgw-multisite-exporter"],
        "services running the exporters"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// host:port targets of a Prometheus configuration, per job (`alerting` under its own key).
fn scrape_targets(cfg: &Yaml) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for job in cfg["scrape_configs"].as_sequence().into_iter().flatten() {
        let name = job["job_name"].as_str().unwrap_or_default().to_string();
        for sc in job["static_configs"].as_sequence().into_iter().flatten() {
            out.entry(name.clone())
                .or_default()
                .extend(strings(&sc["targets"]));
        }
    }
    for am in cfg["alerting"]["alertmanagers"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        for sc in am["static_configs"].as_sequence().into_iter().flatten() {
            out.entry("(alertmanagers)".into())
                .or_default()
                .extend(strings(&sc["targets"]));
        }
    }
    out
}

/// The compose Prometheus' configuration file on the host, via --config.file and its mounts.
fn compose_prometheus_config(c: &Compose) -> (PathBuf, &Yaml) {
    let svc = c.service("prometheus");
    let cfg = strings(&svc["command"])
        .iter()
        .find_map(|w| w.strip_prefix("--config.file=").map(str::to_string))
        .unwrap_or_else(|| "/etc/prometheus/prometheus.yml".into());
    let host = Compose::host_path(svc, &cfg)
        .unwrap_or_else(|| panic!("prometheus: {cfg} is not mounted from the repository"));
    (host, svc)
}

#[test]
fn compose_prometheus_scrapes_compose_services_and_loads_every_rule_file() {
    let c = Compose::load();
    let (cfg_path, prom) = compose_prometheus_config(&c);
    let rel = cfg_path
        .strip_prefix(repo())
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let cfg = yaml_file(&rel);
    let mut problems = Vec::new();
    let targets = scrape_targets(&cfg);
    for (job, ts) in &targets {
        for t in ts {
            let Some((host, port)) = t.rsplit_once(':') else {
                problems.push(format!("{job}: target {t} has no port"));
                continue;
            };
            let svc = &c.doc["services"][host];
            if !svc.is_mapping() {
                problems.push(format!("{job}: target {t}: no compose service {host}"));
            } else if !Compose::ports(svc).contains(&port.parse().unwrap_or(0)) {
                problems.push(format!(
                    "{job}: target {t}: service {host} does not expose {port}"
                ));
            }
        }
    }
    for job in JOBS {
        if !targets.contains_key(job) {
            problems.push(format!("no scrape job {job} (the alerts select it)"));
        }
    }
    if !targets.contains_key("(alertmanagers)") {
        problems.push("no alertmanager target".into());
    }
    // Every rule file of alerts/ is loaded, through the mounts, and nothing else.
    let mut loaded = BTreeSet::new();
    for pat in strings(&cfg["rule_files"]) {
        let (dir, file_glob) = pat.rsplit_once('/').expect("absolute rule_files pattern");
        let Some(host_dir) = Compose::host_path(prom, dir) else {
            problems.push(format!("rule_files {pat}: {dir} is not mounted"));
            continue;
        };
        let mut n = 0;
        for e in std::fs::read_dir(&host_dir).unwrap().flatten() {
            let f = e.file_name().to_string_lossy().into_owned();
            if glob_component(file_glob, &f) {
                loaded.insert(f);
                n += 1;
            }
        }
        if n == 0 {
            problems.push(format!(
                "rule_files {pat} matches no file in {}",
                host_dir.display()
            ));
        }
    }
    let want: BTreeSet<String> = std::fs::read_dir(repo().join("alerts"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".rules.yml") || f.ends_with(".alerts.yml"))
        .collect();
    if loaded != want {
        problems.push(format!("rule files loaded {loaded:?}, in alerts/ {want:?}"));
    }
    assert!(
        problems.is_empty(),
        "{}:\n{}",
        cfg_path.display(),
        problems.join("\n")
    );
}

/// `promtool check config` on both Prometheus configurations. The compose one is checked
/// with its rule_files rewritten to the host paths its mounts give, so promtool also loads
/// the rules exactly as the container will.
#[test]
fn prometheus_configs_pass_promtool() {
    let Some(promtool) = on_path("promtool") else {
        panic!(
            "promtool not found: apt-get install --no-install-recommends prometheus \
             (tests/tests/rules.rs needs it too)"
        );
    };
    let c = Compose::load();
    let (cfg_path, prom) = compose_prometheus_config(&c);
    let text = std::fs::read_to_string(&cfg_path).unwrap();
    let mut cfg: Yaml = serde_yaml::from_str(&text).unwrap();
    let rewritten: Vec<Yaml> = strings(&cfg["rule_files"])
        .iter()
        .map(|pat| {
            let (dir, glob) = pat.rsplit_once('/').unwrap();
            let host = Compose::host_path(prom, dir).expect("rule dir mounted");
            Yaml::String(host.join(glob).to_string_lossy().into_owned())
        })
        .collect();
    cfg["rule_files"] = Yaml::Sequence(rewritten);
    let dir = scratch("promtool");
    let local = dir.join("prometheus.yml");
    std::fs::write(&local, serde_yaml::to_string(&cfg).unwrap()).unwrap();
    let out = run(Command::new(&promtool)
        .args(["check", "config"])
        .arg(&local))
    .unwrap_or_else(|e| panic!("compose prometheus.yml: {e}"));
    assert!(out.contains("SUCCESS: 2 rule files found"), "{out}");

    let example = repo().join("deploy/prometheus/prometheus.yml");
    run(Command::new(&promtool)
        .args(["check", "config", "--syntax-only"])
        .arg(&example))
    .unwrap_or_else(|e| panic!("deploy/prometheus/prometheus.yml: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The example for a real deployment: the alerts' job names, one agent target per secondary
/// zone (several), one exporter job, default ports, and the rule files of alerts/.
#[test]
fn example_prometheus_config_matches_the_alerts() {
    let cfg = yaml_file("deploy/prometheus/prometheus.yml");
    let targets = scrape_targets(&cfg);
    let mut problems = Vec::new();
    // Every job="..." the rules select exists here.
    let mut selected = BTreeSet::new();
    for f in [
        "alerts/rgw-multisite.alerts.yml",
        "alerts/rgw-multisite.rules.yml",
    ] {
        let t = read(f);
        for (i, _) in t.match_indices("job=\"") {
            let rest = &t[i + 5..];
            selected.insert(rest[..rest.find('"').unwrap()].to_string());
        }
    }
    assert!(
        !selected.is_empty(),
        "no job=\"...\" selector found in alerts/"
    );
    for job in selected.iter().map(String::as_str).chain(JOBS) {
        if !targets.contains_key(job) {
            problems.push(format!("no scrape job {job}"));
        }
    }
    let agents = targets
        .get("rgw-multisite-agent")
        .cloned()
        .unwrap_or_default();
    if agents.len() < 2 || agents.iter().any(|t| !t.ends_with(":9240")) {
        problems.push(format!(
            "agent job: want one :9240 target per secondary zone, got {agents:?}"
        ));
    }
    let exporters = targets
        .get("rgw-multisite-exporter")
        .cloned()
        .unwrap_or_default();
    if exporters.is_empty() || exporters.iter().any(|t| !t.ends_with(":9241")) {
        problems.push(format!(
            "exporter job: want :9241 targets, got {exporters:?}"
        ));
    }
    let rule_names: BTreeSet<String> = strings(&cfg["rule_files"])
        .iter()
        .map(|p| p.rsplit('/').next().unwrap().to_string())
        .collect();
    for f in ["rgw-multisite.rules.yml", "rgw-multisite.alerts.yml"] {
        if !rule_names.contains(f) {
            problems.push(format!("rule_files does not load {f}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// alerts/alertmanager.yml notifies the lab's receiver on 127.0.0.1:9095; in compose the
/// webhook shares alertmanager's network namespace and listens there, so the file is used
/// unchanged (README, "Deploy").
#[test]
fn compose_webhook_listens_where_alertmanager_sends() {
    let c = Compose::load();
    let am = c.service("alertmanager");
    let am_cfg = Compose::host_path(am, "/etc/alertmanager/alertmanager.yml")
        .expect("alertmanager.yml mounted");
    assert!(
        strings(&am["command"])
            .contains(&"--config.file=/etc/alertmanager/alertmanager.yml".into()),
        "alertmanager does not read the mounted config"
    );
    let text = std::fs::read_to_string(&am_cfg).unwrap();
    let urls: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- url: "))
        .collect();
    assert_eq!(
        urls.into_iter().collect::<Vec<_>>(),
        ["http://127.0.0.1:9095/"],
        "{}",
        am_cfg.display()
    );
    let wh = c.service("webhook");
    assert_eq!(wh["network_mode"].as_str(), Some("service:alertmanager"));
    let cmd = strings(&wh["command"]).join(" ");
    assert!(
        cmd.contains("--listen 127.0.0.1:9095"),
        "webhook command: {cmd}"
    );
    let script = Compose::host_path(wh, "/opt/webhook.py").expect("webhook.py mounted");
    assert!(
        cmd.contains("/opt/webhook.py") && script.is_file(),
        "webhook command: {cmd}"
    );
}

// ---------------------------------------------------------------------------------------------
// The Ceph bootstrap of the compose file
// ---------------------------------------------------------------------------------------------

/// Every value a script gives a ceph.conf `key`: `key = value` lines of its heredocs, or in a
/// shell variable (`RELEASE_CONF="key = value"`) that a heredoc expands.
fn conf_values(script: &str, key: &str) -> BTreeSet<String> {
    script
        .lines()
        .filter_map(|l| {
            let t = l.trim();
            // RELEASE_CONF="osd pool default pgp num = 8"
            let t = match t.split_once("=\"") {
                Some((var, rest)) if var.chars().all(|c| c.is_ascii_uppercase() || c == '_') => {
                    rest.trim_end_matches('"')
                }
                _ => t,
            };
            let v = t.strip_prefix(key)?.strip_prefix(" = ")?;
            Some(v.trim().to_string())
        })
        .collect()
}

/// The default of a shell assignment at the start of a line: `NAME=value`,
/// `NAME="${OVERRIDE:-value}"`, or the base number of `NAME="${OVERRIDE:-$((8001 + OFFSET))}"`.
fn shell_value(script: &str, name: &str) -> Option<String> {
    script.lines().find_map(|l| {
        let v = l.trim().strip_prefix(name)?.strip_prefix('=')?;
        let v = v.trim_matches('"');
        let v = match v.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
            Some(inner) => inner.split_once(":-").map(|(_, d)| d).unwrap_or(inner),
            None => v,
        };
        Some(match v.strip_prefix("$((") {
            Some(expr) => expr.chars().take_while(char::is_ascii_digit).collect(),
            None => v.to_string(),
        })
    })
}

#[test]
fn shell_and_conf_parsers() {
    let s = "A=lab\nB=\"${LAB_B:-8001}\"\nC=\"${LAB_C:-$((6789 - PORT_OFFSET))}\"\n\
             RELEASE_CONF=\"osd pool default pgp num = 8\"\nosd objectstore = memstore\n";
    assert_eq!(shell_value(s, "A").as_deref(), Some("lab"));
    assert_eq!(shell_value(s, "B").as_deref(), Some("8001"));
    assert_eq!(shell_value(s, "C").as_deref(), Some("6789"));
    assert_eq!(shell_value(s, "D"), None);
    let one = |v: &str| BTreeSet::from([v.to_string()]);
    assert_eq!(conf_values(s, "osd pool default pgp num"), one("8"));
    assert_eq!(conf_values(s, "osd objectstore"), one("memstore"));
    assert!(conf_values(s, "osd pool default size").is_empty());
}

#[test]
fn bootstrap_uses_the_labs_settings() {
    let boot = read(BOOTSTRAP);
    let lab_lib = read("lab/lib.sh");
    let lab_up = read("lab/up");
    let mut problems = Vec::new();
    for (lab_name, boot_name) in [
        ("REALM", "REALM"),
        ("ZONEGROUP", "ZONEGROUP"),
        ("MASTER_ZONE", "MASTER_ZONE"),
        ("SECONDARY_ZONE", "SECONDARY_ZONE"),
        ("RGW_EAST_PORT", "RGW_EAST_PORT"),
        ("RGW_WEST_PORT", "RGW_WEST_PORT"),
        ("MON_PORT_V2", "MON_PORT_V2"),
        ("MON_PORT_V1", "MON_PORT_V1"),
    ] {
        let (l, b) = (
            shell_value(&lab_lib, lab_name),
            shell_value(&boot, boot_name),
        );
        if l.is_none() || l != b {
            problems.push(format!("{lab_name}: lab/lib.sh {l:?}, {BOOTSTRAP} {b:?}"));
        }
    }
    // The cluster-shaping settings of lab/up's ceph.conf, wherever the script sets them (some
    // depend on the release). Paths, addresses, the fsid and the memstore size differ on
    // purpose.
    let keys = [
        "auth cluster required",
        "auth service required",
        "auth client required",
        "osd objectstore",
        "osd pool default size",
        "osd pool default min size",
        "osd pool default pg num",
        "osd pool default pgp num",
        "osd pool default pg autoscale mode",
        "osd crush chooseleaf type",
        "mon allow pool size one",
        "mon max pg per osd",
        "rgw data log num shards",
        "rgw md log max shards",
        "rgw sync lease period",
    ];
    for k in keys {
        let (lab, ours) = (conf_values(&lab_up, k), conf_values(&boot, k));
        if lab.is_empty() || lab != ours {
            problems.push(format!(
                "ceph.conf `{k}`: lab/up {lab:?}, {BOOTSTRAP} {ours:?}"
            ));
        }
    }
    // The zones' radosgw listen where the compose file publishes them.
    let c = Compose::load();
    let ports = Compose::ports(c.service("ceph"));
    for p in [8001u16, 8002, 3300, 6789] {
        if !ports.contains(&p) {
            problems.push(format!("compose service ceph does not expose {p}"));
        }
    }
    for m in Compose::mounts(c.service("ceph")) {
        if m.source == format!("./{BOOTSTRAP}") {
            let ep = strings(&c.service("ceph")["entrypoint"]).join(" ");
            if !ep.contains(&m.target) {
                problems.push(format!("ceph entrypoint {ep:?} does not run {}", m.target));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The cephx user the bootstrap creates is the one the image's radosgw-admin command uses,
/// with the caps the README documents under "Permissions".
#[test]
fn bootstrap_cephx_user_matches_the_image_and_the_readme() {
    let boot = read(BOOTSTRAP);
    let id = shell_value(&boot, "EXPORTER_ID").expect("EXPORTER_ID in the bootstrap");
    let df = dockerfile();
    let cmd = df
        .stages
        .iter()
        .flat_map(|s| s.env.iter())
        .find(|(k, _)| k == "RGW_MULTISITE_RADOSGW_ADMIN_COMMAND")
        .map(|(_, v)| v.clone())
        .expect("Dockerfile sets RGW_MULTISITE_RADOSGW_ADMIN_COMMAND");
    assert_eq!(cmd, format!("radosgw-admin --id {id}"));
    let caps_line = boot
        .lines()
        .find_map(|l| l.trim().strip_prefix("EXPORTER_CAPS=("))
        .and_then(|l| l.strip_suffix(')'))
        .expect("EXPORTER_CAPS=(...) in the bootstrap");
    // mon 'allow r' osd '...' -> the README's `ceph auth get-or-create` line carries the same
    // (compared with line continuations joined and blanks collapsed).
    let squash = |s: &str| {
        s.replace("\\\n", " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let readme = squash(&read("README.md"));
    let want = squash(&format!("ceph auth get-or-create client.{id} {caps_line}"));
    assert!(
        readme.contains(&want),
        "README.md does not document the caps the compose cluster uses: `{want}`"
    );
    for unit in UNITS {
        assert!(
            read(unit).contains(&format!("--id {id}")),
            "{unit} does not use cephx user {id}"
        );
    }
}

/// The compose file's Ceph bootstrap for real, without Docker: deploy/compose/check-bootstrap
/// runs it with this machine's Ceph packages in private namespaces, then both exporters'
/// `--once` as the image's user would (group ceph) with the conf and keyring it wrote. Needs
/// root and the lab's packages, about 50 s: `cargo test --test deploy -- --ignored`.
#[test]
#[ignore = "needs root and the lab's Ceph packages (about 50 s)"]
fn compose_bootstrap_brings_up_a_cluster_the_exporters_can_read() {
    let bin_dir = e2e_tests::binary("rgw-multisite-agent-exporter")
        .parent()
        .expect("binary dir")
        .to_path_buf();
    let out =
        run(Command::new(repo().join("deploy/compose/check-bootstrap")).env("BIN_DIR", bin_dir))
            .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("] ok"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// systemd
// ---------------------------------------------------------------------------------------------

/// `Key=value` pairs per section, in order; repeated keys kept.
fn unit_entries(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut section = String::new();
    for l in text.lines() {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(s) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.to_string();
            continue;
        }
        let (k, v) = t
            .split_once('=')
            .unwrap_or_else(|| panic!("not Key=value: {t}"));
        out.push((section.clone(), k.trim().to_string(), v.trim().to_string()));
    }
    out
}

/// systemd's word splitting of ExecStart= and Environment= (double quotes group words).
fn unit_words(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for ch in v.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[test]
fn systemd_units_are_hardened_and_use_existing_flags() {
    let mut problems = Vec::new();
    for unit in UNITS {
        let name = Path::new(unit)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let entries = unit_entries(&read(unit));
        let get = |k: &str| -> Vec<&str> {
            entries
                .iter()
                .filter(|(s, key, _)| s == "Service" && key == k)
                .map(|(_, _, v)| v.as_str())
                .collect()
        };
        let want: &[(&str, &str)] = &[
            ("User", "rgw-exporter"),
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("ProtectHome", "yes"),
            ("PrivateTmp", "yes"),
            ("CapabilityBoundingSet", ""),
            ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
            ("SystemCallFilter", "@system-service"),
        ];
        for (k, v) in want {
            if !get(k).contains(v) {
                problems.push(format!("{unit}: want {k}={v}, have {:?}", get(k)));
            }
        }
        let env_file = format!("-/etc/default/{name}");
        if get("EnvironmentFile") != [env_file.as_str()] {
            problems.push(format!("{unit}: want EnvironmentFile={env_file}"));
        }
        // ExecStart runs the binary named like the unit, with flags it has.
        let exec = unit_words(get("ExecStart").first().copied().unwrap_or_default());
        let bin = exec
            .first()
            .map(|p| p.rsplit('/').next().unwrap_or(p).to_string());
        if bin.as_deref() != Some(name.as_str()) {
            problems.push(format!("{unit}: ExecStart runs {bin:?}"));
            continue;
        }
        let mut vars: Vec<String> = get("Environment")
            .iter()
            .flat_map(|v| unit_words(v))
            .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_string()))
            .collect();
        // The example /etc/default file: its variables (set or commented out) and ARGS flags.
        let default = read(&format!("deploy/systemd/{name}.default"));
        let mut args = Vec::new();
        for l in default.lines() {
            let l = l.trim().trim_start_matches('#');
            if let Some((k, v)) = l.split_once('=') {
                if k == "ARGS" {
                    args.extend(v.split_whitespace().map(str::to_string));
                } else if k.starts_with("RGW_MULTISITE_") && !k.contains(' ') {
                    vars.push(k.to_string());
                }
            }
        }
        if !default.lines().any(|l| l.starts_with("ARGS=")) || !exec.contains(&"$ARGS".to_string())
        {
            problems.push(format!(
                "{unit}: ExecStart and {name}.default must pass $ARGS"
            ));
        }
        let words: Vec<String> = exec[1..].iter().cloned().chain(args).collect();
        problems.extend(check_invocation(&name, &words, &vars, unit));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `systemd-analyze verify` (unit syntax, known keys, the binary exists and is executable)
/// and `systemd-analyze security --offline` (the exposure score) on each unit. Neither needs
/// systemd as PID 1. ExecStart points at /usr/local/bin; the copies checked here point at
/// the binaries cargo built, since verify wants an executable there.
#[test]
fn systemd_units_pass_systemd_analyze() {
    let Some(analyze) = on_path("systemd-analyze") else {
        panic!(
            "systemd-analyze not found: apt-get install systemd (Debian 12 has it by default); \
             it checks the units in deploy/systemd without running them"
        );
    };
    let dir = scratch("systemd");
    let mut problems = Vec::new();
    for unit in UNITS {
        let name = Path::new(unit)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let bin = Path::new(unit)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let exe = e2e_tests::binary(&bin);
        let text = read(unit).replace(&format!("/usr/local/bin/{bin}"), &exe.to_string_lossy());
        let local = dir.join(&name);
        std::fs::write(&local, text).unwrap();
        // verify exits 0 on unknown keys and only prints them: any output is a finding.
        match run(Command::new(&analyze).arg("verify").arg(&local)) {
            Ok(out) if out.trim().is_empty() => {}
            Ok(out) | Err(out) => problems.push(format!("{unit}: systemd-analyze verify:\n{out}")),
        }
        let out = run(Command::new(&analyze)
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(&local))
        .unwrap_or_else(|e| e);
        let score = out
            .lines()
            .find_map(|l| l.split("Overall exposure level for ").nth(1))
            .and_then(|r| r.split(": ").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|s| s.parse::<f64>().ok());
        match score {
            Some(s) if s <= 2.0 => {}
            _ => problems.push(format!(
                "{unit}: exposure {score:?}, want <= 2.0 (systemd-analyze security):\n{out}"
            )),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn unit_word_splitting() {
    assert_eq!(
        unit_words("\"A=radosgw-admin --id x\" B=1"),
        ["A=radosgw-admin --id x", "B=1"]
    );
    assert_eq!(unit_words("/usr/bin/x $ARGS"), ["/usr/bin/x", "$ARGS"]);
}
