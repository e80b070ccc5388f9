//! Crash-safe deploys: `edgescore serve` killed with SIGKILL at random
//! moments while versions are deployed (good ones, truncated ones and
//! writes abandoned half-way), routing is changed (canaries at random
//! percentages, promotions, rollbacks, primary pins) and review and block
//! alerts are written; then restarted on the same registry, audit log and
//! alert log. After every restart, before any new work:
//!
//! 1. every alert of a review or block answered 200 is in the alert log
//!    (duplicates allowed, none lost);
//! 2. each model's routing is the last acknowledged change, or the one in
//!    flight at the kill (an unanswered change may or may not have landed);
//! 3. each model serves its last good version: the routing's primary when
//!    it names one, else the highest version written completely and valid;
//!    truncated versions are rejected and abandoned writes never serve;
//! 4. `edgescore audit verify` accepts the audit log.
//!
//! The seed is printed (`EDGESCORE_CRASH_SEED=<n>` replays its choices; the
//! kills land at wall-clock times, so a replay is close, not identical).
//! `EDGESCORE_CRASH_ROUNDS` sets the number of kills (default 24; the
//! acceptance asks for at least 20).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use edgescore_runtime::component_build::{BuildRequest, build_component, build_transform};
use edgescore_test_support::repo_root;
use edgescore_test_support::server::{Client, Serve, Server};
use serde_json::{Value, json};

const TOKEN: &str = "crash-deploys-token";
/// The admin token's name: who the audit log says acted.
const ACTOR: &str = "deployer";
/// The quickstart model, deployed as components.
const MODEL: &str = "quick";
/// The fraud example, deployed as pipeline folders.
const PIPELINE: &str = "fraud";
const MODELS: [&str; 2] = [MODEL, PIPELINE];
const DEFAULT_ROUNDS: usize = 24;

/// SplitMix64: small, seeded, good enough to pick what to do.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }

    /// Another generator, for a thread of a round.
    fn fork(&mut self) -> Self {
        Self(self.next())
    }
}

/// How a version's write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    /// Complete and valid: must load.
    Good,
    /// Complete but truncated: must be rejected.
    Bad,
    /// The writer stopped before renaming it in (never a version).
    Abandoned,
}

/// An admin routing change sent and not answered.
#[derive(Debug, Clone)]
enum Change {
    /// `POST .../routing` with this body.
    Set(Value),
    Promote,
    Rollback,
}

/// What the test knows of one model's routing.
#[derive(Debug, Clone, Default)]
struct RoutingTrack {
    /// The `routing` of the last acknowledged answer (or, after a restart,
    /// what the server read back).
    acked: Value,
    /// The change sent and not answered when the server died.
    in_flight: Option<Change>,
}

/// Counts for the summary.
#[derive(Debug, Default)]
struct Stats {
    routing_acked: u64,
    routing_refused: u64,
    routing_in_flight: u64,
    in_flight_landed: u64,
    versions: BTreeMap<&'static str, [u64; 3]>,
    scored: u64,
    transactions: u64,
    decisions: BTreeMap<String, u64>,
    score_unanswered: u64,
    score_errors: u64,
    first_score_error: Option<String>,
    loads: u64,
    startup: Vec<Duration>,
    pruned: u64,
}

/// What the test did, shared by the threads of a round.
#[derive(Debug, Default)]
struct Ledger {
    /// Per model, every version on disk and how it was written.
    versions: BTreeMap<&'static str, BTreeMap<u64, Written>>,
    next_version: BTreeMap<&'static str, u64>,
    routing: BTreeMap<&'static str, RoutingTrack>,
    /// The `device_id` (unique per transaction) of every acknowledged
    /// review or block.
    alerts: BTreeSet<String>,
    stats: Stats,
    /// What a thread saw that must not happen (while running).
    failures: Vec<String>,
}

impl Ledger {
    fn good(&self, model: &str) -> Vec<u64> {
        self.versions
            .get(model)
            .map(|v| {
                v.iter()
                    .filter(|(_, w)| **w == Written::Good)
                    .map(|(v, _)| *v)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn written(&self, model: &str, version: u64) -> Option<Written> {
        self.versions.get(model)?.get(&version).copied()
    }
}

/// Primary, canary (version, percent) and shadow of a routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Triple {
    primary: Option<u64>,
    canary: Option<(u64, u64)>,
    shadow: Option<u64>,
}

fn triple(routing: &Value) -> Triple {
    Triple {
        primary: routing["primary"].as_u64(),
        canary: routing["canary"]["version"]
            .as_u64()
            .map(|v| (v, routing["canary"]["percent"].as_u64().unwrap_or(0))),
        shadow: routing["shadow"].as_u64(),
    }
}

/// Whether `observed` is what `change`, applied to `base`, makes.
fn could_result(base: &Value, change: &Change, observed: &Value) -> bool {
    let (before, after) = (triple(base), triple(observed));
    match change {
        Change::Set(asked) => after == triple(asked),
        Change::Promote => before.canary.is_some_and(|(version, _)| {
            after
                == Triple {
                    primary: Some(version),
                    canary: None,
                    shadow: before.shadow,
                }
        }),
        Change::Rollback => match before.canary {
            Some(_) => {
                after
                    == Triple {
                        canary: None,
                        ..before
                    }
            }
            // Pins the highest ready version below the one serving.
            None => {
                after.canary.is_none()
                    && after.shadow == before.shadow
                    && after
                        .primary
                        .is_some_and(|p| before.primary.is_none_or(|b| p < b))
            }
        },
    }
}

/// Everything a round needs, fixed for the run.
#[derive(Debug)]
struct Setup {
    registry: PathBuf,
    alert_log: PathBuf,
    audit_log: PathBuf,
    component: Vec<u8>,
    /// The pipeline's files, by their path in a version folder.
    pipeline: Vec<(&'static str, Vec<u8>)>,
}

fn admin_headers() -> [(&'static str, String); 2] {
    [
        ("authorization", format!("Bearer {TOKEN}")),
        ("content-type", "application/json".to_owned()),
    ]
}

/// An admin request: status (0: no answer) and body.
fn admin(client: &Client, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let headers = admin_headers();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, text) = client.request(
        method,
        path,
        &headers,
        body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    );
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Writes `<registry>/quick/<version>/model.wasm` the documented way (a
/// temporary name, written in pieces, then renamed), truncated when `bad`;
/// abandoned, its temporary file left behind, when `stop` is raised.
fn write_model_version(
    setup: &Setup,
    version: u64,
    bad: bool,
    stop: &AtomicBool,
    rng: &mut Rng,
) -> Written {
    let folder = setup.registry.join(MODEL).join(version.to_string());
    std::fs::create_dir_all(&folder).expect("version folder");
    let component = &setup.component;
    let bytes = match (bad, rng.chance(0.5)) {
        (false, _) => &component[..],
        (true, true) => &component[..component.len() / 2],
        (true, false) => &component[..component.len() - 100],
    };
    let tmp = folder.join("model.wasm.tmp");
    let mut file = std::fs::File::create(&tmp).expect("create model.wasm.tmp");
    for piece in bytes.chunks(bytes.len() / 6 + 1) {
        if stop.load(Ordering::SeqCst) {
            return Written::Abandoned;
        }
        file.write_all(piece).expect("write model.wasm.tmp");
        std::thread::sleep(Duration::from_millis(rng.between(3, 20)));
    }
    drop(file);
    std::fs::rename(&tmp, folder.join("model.wasm")).expect("rename model.wasm");
    if bad { Written::Bad } else { Written::Good }
}

/// Writes `<registry>/fraud/<version>/` as a staged hidden folder renamed
/// in; with a truncated model component when `bad`; abandoned (left
/// staged) when `stop` is raised.
fn write_pipeline_version(
    setup: &Setup,
    version: u64,
    bad: bool,
    stop: &AtomicBool,
    rng: &mut Rng,
) -> Written {
    let staged = setup
        .registry
        .join(PIPELINE)
        .join(format!(".staged-{version}"));
    std::fs::create_dir_all(&staged).expect("staged folder");
    for (name, bytes) in &setup.pipeline {
        if stop.load(Ordering::SeqCst) {
            return Written::Abandoned;
        }
        let bytes = if bad && *name == "model.wasm" {
            &bytes[..bytes.len() / 2]
        } else {
            &bytes[..]
        };
        std::fs::write(staged.join(name), bytes).expect("write a pipeline file");
        std::thread::sleep(Duration::from_millis(rng.between(3, 20)));
    }
    if stop.load(Ordering::SeqCst) {
        return Written::Abandoned;
    }
    std::fs::rename(
        &staged,
        setup.registry.join(PIPELINE).join(version.to_string()),
    )
    .expect("rename the staged version in");
    if bad { Written::Bad } else { Written::Good }
}

/// Deploys versions (a fifth of them truncated) and asks for half of them
/// to be loaded at once (the watcher finds the others), until the server
/// dies or `stop` is raised.
fn deployer(
    setup: &Setup,
    client: &Client,
    ledger: &Mutex<Ledger>,
    stop: &AtomicBool,
    mut rng: Rng,
) {
    while !stop.load(Ordering::SeqCst) {
        let model = if rng.chance(0.6) { MODEL } else { PIPELINE };
        let bad = rng.chance(0.2);
        let version = {
            let mut ledger = ledger.lock().expect("ledger");
            let next = ledger.next_version.entry(model).or_insert(2);
            *next += 1;
            *next - 1
        };
        let written = if model == MODEL {
            write_model_version(setup, version, bad, stop, &mut rng)
        } else {
            write_pipeline_version(setup, version, bad, stop, &mut rng)
        };
        {
            let mut ledger = ledger.lock().expect("ledger");
            ledger
                .versions
                .entry(model)
                .or_default()
                .insert(version, written);
            let counts = ledger.stats.versions.entry(model).or_default();
            counts[written as usize] += 1;
        }
        if written == Written::Abandoned {
            return;
        }
        // Half the versions are left to the registry's watcher.
        if rng.chance(0.5) {
            std::thread::sleep(Duration::from_millis(rng.between(20, 120)));
            continue;
        }
        let (status, answer) = admin(
            client,
            "POST",
            &format!("/v2/repository/models/{model}/load"),
            None,
        );
        let mut ledger = ledger.lock().expect("ledger");
        match status {
            0 => return,
            200 => {
                ledger.stats.loads += 1;
                let serving = answer["serving"].as_u64();
                let written = serving.and_then(|v| ledger.written(model, v));
                if serving.is_some() && written != Some(Written::Good) {
                    ledger.failures.push(format!(
                        "{model}: after writing version {version}, the load answered serving {serving:?}, written {written:?}: {answer}"
                    ));
                }
            }
            _ => ledger.failures.push(format!(
                "{model}: loading version {version} answered {status}: {answer}"
            )),
        }
        drop(ledger);
        std::thread::sleep(Duration::from_millis(rng.between(20, 120)));
    }
}

/// Changes the routing of both models through the admin API, one change at
/// a time, recording each acknowledged answer and the change in flight.
fn router(client: &Client, ledger: &Mutex<Ledger>, stop: &AtomicBool, mut rng: Rng) {
    while !stop.load(Ordering::SeqCst) {
        let model = if rng.chance(0.7) { MODEL } else { PIPELINE };
        let good = ledger.lock().expect("ledger").good(model);
        // The latest few good versions (older ones may have been pruned).
        let recent = &good[good.len().saturating_sub(4)..];
        if recent.is_empty() {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let roll = rng.below(100);
        let change = match roll {
            0..35 => {
                let mut spec = json!({
                    "canary": { "version": rng.pick(recent), "percent": rng.below(101) },
                });
                if rng.chance(0.5) {
                    spec["primary"] = json!(rng.pick(recent));
                }
                if rng.chance(0.3) {
                    spec["shadow"] = json!(rng.pick(recent));
                }
                Change::Set(spec)
            }
            35..55 => Change::Set(json!({ "primary": rng.pick(recent) })),
            55..67 => Change::Set(json!({})),
            67..84 => Change::Promote,
            _ => Change::Rollback,
        };
        let (path, body) = match &change {
            Change::Set(spec) => (format!("/admin/models/{model}/routing"), Some(spec)),
            Change::Promote => (format!("/admin/models/{model}/promote"), None),
            Change::Rollback => (format!("/admin/models/{model}/rollback"), None),
        };
        ledger
            .lock()
            .expect("ledger")
            .routing
            .entry(model)
            .or_default()
            .in_flight = Some(change.clone());
        let (status, answer) = admin(client, "POST", &path, body);
        let mut ledger = ledger.lock().expect("ledger");
        match status {
            // No answer: the change may or may not have landed.
            0 => {
                ledger.stats.routing_in_flight += 1;
                return;
            }
            200 => {
                let routing = answer["routing"].clone();
                let track = ledger.routing.entry(model).or_default();
                let base = std::mem::take(&mut track.acked);
                track.acked = routing.clone();
                track.in_flight = None;
                ledger.stats.routing_acked += 1;
                if !could_result(&base, &change, &routing) {
                    ledger.failures.push(format!(
                        "{model}: {change:?} on {base} was answered with routing {routing}"
                    ));
                }
            }
            // Refused (a version not ready yet, nothing to promote or roll
            // back to): nothing changed.
            400 | 404 | 409 => {
                let track = ledger.routing.entry(model).or_default();
                track.in_flight = None;
                ledger.stats.routing_refused += 1;
            }
            _ => {
                ledger.routing.entry(model).or_default().in_flight = None;
                ledger
                    .failures
                    .push(format!("{model}: {change:?} answered {status}: {answer}"));
            }
        }
        drop(ledger);
        std::thread::sleep(Duration::from_millis(rng.between(10, 80)));
    }
}

/// A transaction that often decides review or block (online, abroad, large,
/// a new device), identified by its `device_id`.
fn transaction(rng: &mut Rng, id: &str, thread: usize) -> Value {
    json!({
        "timestamp": now_ms(),
        "card_id": format!("c{thread}-{}", rng.below(12)),
        "amount": 150.0 + rng.below(2900) as f64 + 0.25,
        "merchant_id": format!("m{}", rng.below(40)),
        "merchant_category": rng.pick(&["electronics", "gift_cards", "digital_goods", "travel", "grocery"]),
        "channel": if rng.chance(0.8) { "online" } else { "pos" },
        "country": rng.pick(&["NG", "RU", "BR", "US", "US"]),
        "home_country": "US",
        "device_id": id,
    })
}

/// Scores transactions through the pipeline until the server dies,
/// recording every review and block answered 200.
fn scorer(
    client: &Client,
    ledger: &Mutex<Ledger>,
    stop: &AtomicBool,
    mut rng: Rng,
    round: usize,
    thread: usize,
) {
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        let ids: Vec<String> = (0..rng.between(1, 3))
            .map(|_| {
                n += 1;
                format!("d{round}-{thread}-{n}")
            })
            .collect();
        let transactions: Vec<Value> = ids
            .iter()
            .map(|id| transaction(&mut rng, id, thread))
            .collect();
        let body = json!({ "transactions": transactions, "key": ids[0] });
        let (status, answer) = client.post_json(&format!("/v1/pipelines/{PIPELINE}/score"), &body);
        let mut ledger = ledger.lock().expect("ledger");
        match status {
            0 => {
                ledger.stats.score_unanswered += 1;
                return;
            }
            200 => {
                let results = answer["results"].as_array().cloned().unwrap_or_default();
                if results.len() != ids.len() {
                    ledger.failures.push(format!(
                        "{} results for {} transactions: {answer}",
                        results.len(),
                        ids.len()
                    ));
                }
                ledger.stats.scored += 1;
                for (id, result) in ids.iter().zip(&results) {
                    ledger.stats.transactions += 1;
                    let decision = result["decision"].as_str().unwrap_or("none").to_owned();
                    if decision != "allow" {
                        ledger.alerts.insert(id.clone());
                    }
                    *ledger.stats.decisions.entry(decision).or_default() += 1;
                }
            }
            // Not acknowledged (say, a call past its deadline on a loaded
            // machine): its alerts need not be anywhere.
            500.. => {
                ledger.stats.score_errors += 1;
                ledger
                    .stats
                    .first_score_error
                    .get_or_insert_with(|| answer.to_string());
            }
            _ => ledger
                .failures
                .push(format!("scoring answered {status}: {answer}")),
        }
        drop(ledger);
        std::thread::sleep(Duration::from_millis(rng.between(2, 15)));
    }
}

/// `GET /v1/models/<model>` once no version is pending and every version
/// written completely is listed (or what was listed after 30 s).
fn settled_listing(server: &Server, model: &str, complete: &[u64]) -> (Value, bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, listing) = server.get(&format!("/v1/models/{model}"));
        let versions = listing["versions"].as_array().cloned().unwrap_or_default();
        let decided: BTreeSet<u64> = versions
            .iter()
            .filter(|v| v["status"] == "ready" || v["status"] == "rejected")
            .filter_map(|v| v["version"].as_u64())
            .collect();
        let pending = versions.iter().any(|v| v["status"] == "pending");
        if !pending && complete.iter().all(|v| decided.contains(v)) {
            return (listing, true);
        }
        if Instant::now() > deadline {
            return (listing, false);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `device_id`s of the alert log's parseable lines, the number of lines
/// that are not JSON, and the raw text (the rotated file first).
fn logged_alerts(log: &Path) -> (BTreeSet<String>, usize, String) {
    let rotated = PathBuf::from(format!("{}.1", log.display()));
    let text = [rotated.as_path(), log]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut ids = BTreeSet::new();
    let mut corrupt = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(alert) => {
                if let Some(id) = alert["transaction"]["device_id"].as_str() {
                    ids.insert(id.to_owned());
                }
            }
            Err(_) => corrupt += 1,
        }
    }
    (ids, corrupt, text)
}

/// `edgescore audit verify <log>`: the failure, if any.
fn audit_verify(log: &Path) -> Option<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(["audit", "verify"])
        .arg(log)
        .output()
        .expect("edgescore audit verify runs");
    (!output.status.success()).then(|| {
        format!(
            "edgescore audit verify {} exited {}: {}{}",
            log.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The action of an audit entry (at its top level or in its record).
fn audit_action(entry: &Value) -> Option<String> {
    [
        &entry["action"],
        &entry["record"]["action"],
        &entry["entry"]["action"],
    ]
    .into_iter()
    .find_map(|a| a.as_str().map(str::to_lowercase))
}

/// The checks after a restart, before any new work; what failed. Takes what
/// the server serves now as the baseline of the next round.
fn check_restart(server: &Server, setup: &Setup, ledger: &mut Ledger, round: usize) -> Vec<String> {
    let mut failures = Vec::new();
    let client = Client::new(server.base_url());

    // 3 (first, so that the server is idle for the rest): versions decided.
    let mut listings = BTreeMap::new();
    for model in MODELS {
        let versions = ledger.versions.get(model).cloned().unwrap_or_default();
        let complete: Vec<u64> = versions
            .iter()
            .filter(|(_, w)| **w != Written::Abandoned)
            .map(|(v, _)| *v)
            .collect();
        let (listing, settled) = settled_listing(server, model, &complete);
        if !settled {
            failures.push(format!(
                "{model}: versions {complete:?} not all decided 30 s after the restart: {listing}"
            ));
        }
        for entry in listing["versions"].as_array().cloned().unwrap_or_default() {
            let version = entry["version"].as_u64().unwrap_or_default();
            let status = entry["status"].as_str().unwrap_or_default();
            let expected = match versions.get(&version) {
                Some(Written::Good) => "ready",
                Some(Written::Bad) => "rejected",
                Some(Written::Abandoned) | None => "not listed",
            };
            if status != expected {
                failures.push(format!(
                    "{model} version {version} ({:?}) is {status}, expected {expected}: {entry}",
                    versions.get(&version)
                ));
            }
        }
        listings.insert(model, listing);
    }

    // 1. Every acknowledged alert is in the log.
    let (logged, corrupt, raw) = logged_alerts(&setup.alert_log);
    let missing: Vec<&String> = ledger.alerts.difference(&logged).collect();
    if !missing.is_empty() {
        let torn: Vec<&&String> = missing
            .iter()
            .filter(|id| raw.contains(&format!("\"device_id\":\"{id}\"")))
            .collect();
        failures.push(format!(
            "{} of {} acknowledged alerts are not in the alert log as JSON lines ({} of them only inside lines that do not parse: {corrupt} such lines); first missing: {:?}",
            missing.len(),
            ledger.alerts.len(),
            torn.len(),
            missing.iter().take(5).collect::<Vec<_>>()
        ));
    }

    // 2 and 3. Routing as acknowledged (or as in flight), serving the last
    // good version.
    for model in MODELS {
        let (status, answer) = admin(
            &client,
            "GET",
            &format!("/admin/models/{model}/routing"),
            None,
        );
        if status != 200 {
            failures.push(format!("{model}: GET routing answered {status}: {answer}"));
            continue;
        }
        let observed = answer["routing"].clone();
        if !answer["routing_error"].is_null() {
            failures.push(format!(
                "{model}: the routing file is refused after the restart: {answer}"
            ));
        }
        let track = ledger.routing.entry(model).or_default().clone();
        let as_acked = observed == track.acked || triple(&observed) == triple(&track.acked);
        let as_in_flight = track
            .in_flight
            .as_ref()
            .is_some_and(|change| could_result(&track.acked, change, &observed));
        if as_in_flight && !as_acked {
            ledger.stats.in_flight_landed += 1;
        }
        if !as_acked && !as_in_flight {
            failures.push(format!(
                "{model}: routing after the restart is {observed}; last acknowledged {}, in flight at the kill {:?}",
                track.acked, track.in_flight
            ));
        }
        let good = ledger.good(model);
        let routed = triple(&observed);
        let expected = routed.primary.or_else(|| good.last().copied());
        let serving = answer["serving"].as_u64();
        if serving != expected {
            failures.push(format!(
                "{model}: serves {serving:?} after the restart, expected {expected:?} (routing {observed}, good versions {good:?}): {answer}"
            ));
        }
        if let Some(p) = routed.primary
            && !good.contains(&p)
        {
            failures.push(format!(
                "{model}: the routing's primary {p} is not a good version ({good:?})"
            ));
        }
        // A canary or a shadow that is the primary is not served as one.
        let canary = answer["canary"]["version"]
            .as_u64()
            .map(|v| (v, answer["canary"]["percent"].as_u64().unwrap_or(0)));
        let other = |v: &u64| Some(*v) != serving;
        if canary != routed.canary.filter(|(v, _)| other(v))
            || answer["shadow"].as_u64() != routed.shadow.filter(other)
        {
            failures.push(format!(
                "{model}: routing {observed} but canary {} and shadow {} serve",
                answer["canary"], answer["shadow"]
            ));
        }
        let track = ledger.routing.entry(model).or_default();
        track.acked = observed;
        track.in_flight = None;
    }

    // A request after the restart is scored by the version routed.
    let (status, scored) = server.post_json(
        &format!("/v1/models/{MODEL}/score"),
        &json!({ "rows": [{ "amount": 10.0, "hour": 3 }], "key": format!("check-{round}") }),
    );
    let routed = ledger.routing.get(MODEL).map(|t| triple(&t.acked));
    let by = scored["results"][0]["version"].as_u64();
    let allowed = [
        routed
            .and_then(|r| r.primary)
            .or_else(|| ledger.good(MODEL).last().copied()),
        routed.and_then(|r| r.canary.map(|c| c.0)),
    ];
    if status != 200 || !allowed.contains(&by) {
        failures.push(format!(
            "{MODEL}: a score after the restart answered {status} by {by:?}, expected one of {allowed:?}: {scored}"
        ));
    }

    // 4. The audit trail verifies (the server has reopened it, cutting a
    // torn last entry, and is idle).
    failures.extend(audit_verify(&setup.audit_log));

    failures
        .into_iter()
        .map(|f| format!("after kill {round}: {f}"))
        .collect()
}

/// Removes old versions while the server is down, so that restarts stay
/// quick: keeps the four highest good versions, everything above the
/// lowest of them, and every version the routing (acknowledged or in
/// flight) names. Nothing goes while a rollback is in flight (it may have
/// pinned any version below the one serving).
fn prune(setup: &Setup, ledger: &mut Ledger) {
    for model in MODELS {
        let track = ledger.routing.get(model).cloned().unwrap_or_default();
        if matches!(track.in_flight, Some(Change::Rollback)) {
            continue;
        }
        let good = ledger.good(model);
        let Some(&floor) = good.iter().rev().nth(3) else {
            continue;
        };
        let mut named: Vec<u64> = Vec::new();
        for routing in [
            Some(&track.acked),
            match &track.in_flight {
                Some(Change::Set(spec)) => Some(spec),
                _ => None,
            },
        ]
        .into_iter()
        .flatten()
        {
            let t = triple(routing);
            named.extend(t.primary);
            named.extend(t.canary.map(|c| c.0));
            named.extend(t.shadow);
        }
        let floor = named.iter().copied().fold(floor, u64::min);
        let versions = ledger.versions.entry(model).or_default();
        let old: Vec<(u64, Written)> = versions.range(..floor).map(|(v, w)| (*v, *w)).collect();
        for (version, written) in old {
            let folder = setup.registry.join(model);
            let path = match (model, written) {
                (PIPELINE, Written::Abandoned) => folder.join(format!(".staged-{version}")),
                _ => folder.join(version.to_string()),
            };
            std::fs::remove_dir_all(&path)
                .unwrap_or_else(|e| panic!("cannot remove {}: {e}", path.display()));
            versions.remove(&version);
            ledger.stats.pruned += 1;
        }
    }
}

/// The fraud example as the files of a registry version, its transform
/// and model built (a version naming its sources would be built at every
/// load, seconds each restart).
fn fraud_pipeline(example: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let spec = std::fs::read_to_string(example.join("pipeline.toml")).expect("pipeline.toml");
    let spec = spec
        .replace("\"transform.toml\"", "\"transform.wasm\"")
        .replace("\"model/xgboost.json\"", "\"model.wasm\"");
    assert!(
        spec.contains("transform.wasm") && spec.contains("\"model.wasm\""),
        "{spec}"
    );
    let transform =
        build_transform(&example.join("transform.toml")).expect("the fraud transform builds");
    let model = build_component(&BuildRequest {
        model: &example.join("model/xgboost.json"),
        format: None,
        name: PIPELINE,
        version: "1",
    })
    .expect("the fraud model builds");
    vec![
        ("pipeline.toml", spec.into_bytes()),
        ("transform.wasm", transform),
        ("model.wasm", model),
    ]
}

#[test]
fn kill_9_during_deploys_routing_and_alerts_loses_nothing_acknowledged() {
    let seed = std::env::var("EDGESCORE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| now_ms() ^ u64::from(std::process::id()) << 32);
    let rounds = std::env::var("EDGESCORE_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS);
    eprintln!(
        "crash_deploys: seed {seed} (EDGESCORE_CRASH_SEED={seed} replays it), {rounds} kills"
    );
    let mut rng = Rng(seed);
    let began = Instant::now();

    let tmp = tempfile::tempdir().expect("tempdir");
    let example = repo_root().join("examples/fraud");
    let setup = Setup {
        registry: tmp.path().join("registry"),
        alert_log: tmp.path().join("alerts.jsonl"),
        audit_log: tmp.path().join("audit.jsonl"),
        component: build_component(&BuildRequest {
            model: &repo_root().join("examples/quickstart/fraud_xgboost.json"),
            format: None,
            name: MODEL,
            version: "1",
        })
        .expect("the quickstart model builds"),
        pipeline: fraud_pipeline(&example),
    };
    let ledger = Mutex::new(Ledger::default());
    {
        // Version 1 of each, there before the first start.
        let never = AtomicBool::new(false);
        let mut ledger = ledger.lock().expect("ledger");
        let written = write_model_version(&setup, 1, false, &never, &mut rng);
        ledger.versions.entry(MODEL).or_default().insert(1, written);
        let written = write_pipeline_version(&setup, 1, false, &never, &mut rng);
        ledger
            .versions
            .entry(PIPELINE)
            .or_default()
            .insert(1, written);
    }

    let config = tmp.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "poll_interval_ms = 100\nsettle_ms = 300\ndeadline_ms = 500\n\n[admin_tokens]\n{ACTOR} = \"{TOKEN}\"\n"
        ),
    )
    .expect("config");
    let mut serve = Serve::new(env!("CARGO_BIN_EXE_edgescore"));
    serve
        .arg("--registry")
        .arg(&setup.registry)
        .arg("--config")
        .arg(&config)
        .arg("--audit-log")
        .arg(&setup.audit_log)
        .arg("--alert-log")
        .arg(&setup.alert_log)
        .env("XDG_CACHE_HOME", tmp.path().join("cache"))
        .grace(Duration::from_secs(10));

    let mut failures: Vec<String> = Vec::new();
    let mut kills = 0;
    for round in 0..=rounds {
        serve.stderr_to(tmp.path().join(format!("serve-{round}.log")));
        let started = Instant::now();
        let mut server = serve.start();
        let mut guard = ledger.lock().expect("ledger");
        guard.stats.startup.push(started.elapsed());
        if round == 0 {
            // The routing before any change: the baseline.
            for model in MODELS {
                let (_, answer) = admin(
                    &Client::new(server.base_url()),
                    "GET",
                    &format!("/admin/models/{model}/routing"),
                    None,
                );
                guard.routing.entry(model).or_default().acked = answer["routing"].clone();
            }
        }
        let found = check_restart(&server, &setup, &mut guard, round);
        if !found.is_empty() {
            eprintln!("crash_deploys: {}", found.join("\n  "));
        }
        failures.extend(found);
        let during: Vec<String> = std::mem::take(&mut guard.failures);
        failures.extend(
            during
                .into_iter()
                .map(|f| format!("before kill {round}: {f}")),
        );
        drop(guard);
        if round == rounds {
            // Stopped gracefully: the whole trail verifies.
            drop(server);
            break;
        }

        // The workload, and a kill -9 at a random moment of it.
        let stop = AtomicBool::new(false);
        let delay = Duration::from_millis(rng.between(100, 1500));
        let base = server.base_url().to_owned();
        let threads: Vec<Rng> = (0..4).map(|_| rng.fork()).collect();
        std::thread::scope(|s| {
            let (setup, ledger, stop, base) = (&setup, &ledger, &stop, &base);
            let mut threads = threads.into_iter();
            let mut next = || threads.next().expect("a generator per thread");
            let rng = next();
            s.spawn(move || deployer(setup, &Client::new(base), ledger, stop, rng));
            let rng = next();
            s.spawn(move || router(&Client::new(base), ledger, stop, rng));
            for thread in 0..2 {
                let rng = next();
                s.spawn(move || scorer(&Client::new(base), ledger, stop, rng, round, thread));
            }
            std::thread::sleep(delay);
            server.kill();
            stop.store(true, Ordering::SeqCst);
        });
        kills += 1;
        prune(&setup, &mut ledger.lock().expect("ledger"));
    }

    // The whole trail: it verifies, and it has what happened in it.
    failures.extend(audit_verify(&setup.audit_log));
    let mut actions: BTreeMap<String, u64> = BTreeMap::new();
    let trail = std::fs::read_to_string(&setup.audit_log).unwrap_or_default();
    for line in trail.lines() {
        let action = serde_json::from_str::<Value>(line)
            .ok()
            .and_then(|e| audit_action(&e))
            .unwrap_or_else(|| "unreadable".to_owned());
        *actions.entry(action).or_default() += 1;
    }
    let count = |a: &str| actions.get(a).copied().unwrap_or_default();
    for needed in ["load", "swap", "reject", "admin", "routing"] {
        if count(needed) == 0 {
            failures.push(format!(
                "the audit log has no {needed:?} entry: {actions:?}"
            ));
        }
    }
    if count(ACTOR) == 0 && !trail.contains(&format!("\"{ACTOR}\"")) {
        failures.push(format!("the audit log never names the admin {ACTOR:?}"));
    }

    let ledger = ledger.into_inner().expect("ledger");
    let stats = &ledger.stats;
    let startup = &stats.startup;
    let mean = startup.iter().sum::<Duration>() / startup.len().max(1) as u32;
    eprintln!(
        "crash_deploys: seed {seed}: {} starts, {kills} kill -9s in {:.1} s\n  \
         alerts acknowledged: {} (transactions scored {}, decisions {:?}, requests unanswered at a kill {}, answered 5xx {} (first: {}))\n  \
         routing changes: {} acknowledged, {} refused, {} in flight at a kill ({} of them landed)\n  \
         versions written (good, bad, abandoned): {:?}; load calls answered {}; pruned {}\n  \
         startup mean {:.2} s, max {:.2} s; audit entries {:?}",
        rounds + 1,
        began.elapsed().as_secs_f64(),
        ledger.alerts.len(),
        stats.transactions,
        stats.decisions,
        stats.score_unanswered,
        stats.score_errors,
        stats.first_score_error.as_deref().unwrap_or("none"),
        stats.routing_acked,
        stats.routing_refused,
        stats.routing_in_flight,
        stats.in_flight_landed,
        stats.versions,
        stats.loads,
        stats.pruned,
        mean.as_secs_f64(),
        startup
            .iter()
            .max()
            .copied()
            .unwrap_or_default()
            .as_secs_f64(),
        actions,
    );
    assert!(
        !ledger.alerts.is_empty(),
        "no alert was acknowledged: the workload decided nothing"
    );
    assert!(
        stats.routing_acked > 0,
        "no routing change was acknowledged"
    );
    if !failures.is_empty() {
        let kept = tmp.keep();
        panic!(
            "{} failures (seed {seed}; registry, logs and each start's stderr kept in {}):\n{}",
            failures.len(),
            kept.display(),
            failures.join("\n")
        );
    }
}
