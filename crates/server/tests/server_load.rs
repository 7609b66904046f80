//! Ingest throughput over HTTP: 8 concurrent clients adding 300 activities per call to a
//! real engine on loopback. Ignored by default (it measures, it does not check much); run
//! in release mode:
//!
//! ```sh
//! cargo test --release -p actlog-server --test server_load -- --ignored --nocapture
//! ```
//!
//! Each test runs a warm-up round and then several measured rounds, each on a fresh server,
//! and prints every round and the median of the measured ones: one round lasts about two
//! seconds, and on a shared machine single rounds scatter widely. `ACTLOG_LOAD_ROUNDS`
//! (measured rounds, default 5) and `ACTLOG_LOAD_CALLS` (calls per client per round,
//! default 200) change the run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

/// The allocator the `actlog` binary (and so `actlog serve`) runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use actlog::{Engine, Options};
use actlog_server::EngineBackend;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{result, TestServer};

/// What the client checks of an add call's answer: success and one `added` per item.
#[derive(serde::Deserialize)]
struct AddReply<'a> {
    success: bool,
    #[serde(borrow)]
    result: Vec<AddStatus<'a>>,
}

#[derive(serde::Deserialize)]
struct AddStatus<'a> {
    status: &'a str,
}

const CLIENTS: usize = 8;
const ITEMS_PER_CALL: usize = 300;

/// A knob read from the environment, with its default.
fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One round's figures.
struct Round {
    rate: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run in release mode with --ignored --nocapture"]
async fn add_activities_throughput() {
    let mut rounds = Vec::new();
    let mut bodies = None;
    for r in 0..=knob("ACTLOG_LOAD_ROUNDS", 5) {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path().join("data"), Options::default()).unwrap();
        let backend = Arc::new(EngineBackend::new(engine.clone()));
        let label = if r == 0 { "engine, warm-up" } else { "engine" };
        let (round, total) = measure(label, backend, &mut bodies).await;
        assert_eq!(engine.stats().unwrap().activities, total as u64);
        drop(engine);
        if r > 0 {
            rounds.push(round);
        }
    }
    summarize("engine", rounds);
}

/// The same load against the in-memory fake: the HTTP layer's own ceiling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run in release mode with --ignored --nocapture"]
async fn add_activities_throughput_http_layer_only() {
    let mut rounds = Vec::new();
    let mut bodies = None;
    for r in 0..=knob("ACTLOG_LOAD_ROUNDS", 5) {
        let fake = Arc::new(support::fake::Fake::new());
        let label = if r == 0 {
            "in-memory fake, warm-up"
        } else {
            "in-memory fake"
        };
        let (round, total) = measure(label, fake.clone(), &mut bodies).await;
        assert_eq!(fake.activities().len(), total);
        if r > 0 {
            rounds.push(round);
        }
    }
    summarize("in-memory fake", rounds);
}

/// Prints the median round and the spread.
fn summarize(label: &str, mut rounds: Vec<Round>) {
    rounds.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let median = &rounds[rounds.len() / 2];
    println!(
        "add activities over HTTP ({label}): median of {} rounds {:.0} activities/s (p50 {:?}, p99 {:?}, max {:?}); slowest {:.0}, fastest {:.0}",
        rounds.len(),
        median.rate,
        median.p50,
        median.p99,
        median.max,
        rounds[0].rate,
        rounds[rounds.len() - 1].rate,
    );
}

/// The request bodies of one round, per client, built once before any clock starts: the
/// server's work is measured, not the client's. A backend numbers its first type the same
/// on every fresh server, so the bodies serve every round.
struct Bodies {
    type_id: u64,
    per_client: Vec<Vec<String>>,
}

impl Bodies {
    fn new(type_id: u64) -> Bodies {
        let calls = knob("ACTLOG_LOAD_CALLS", 200);
        Bodies {
            type_id,
            per_client: (0..CLIENTS)
                .map(|c| {
                    (0..calls)
                        .map(|k| {
                            let input: Vec<Value> = (0..ITEMS_PER_CALL)
                                .map(|i| {
                                    let n = (c * calls + k) * ITEMS_PER_CALL + i;
                                    json!({"leadId": n % 100_000, "activityDate": "2024-05-01T12:00:00Z", "activityTypeId": type_id,
                                           "primaryAttributeValue": format!("/page/{}", n % 500), "attributes": [{"apiName": "ms", "value": n % 1000}]})
                                })
                                .collect();
                            json!({"input": input}).to_string()
                        })
                        .collect()
                })
                .collect(),
        }
    }
}

async fn measure(
    label: &str,
    backend: Arc<dyn actlog_server::Backend>,
    bodies: &mut Option<Bodies>,
) -> (Round, usize) {
    let s = Arc::new(TestServer::start(backend).await);
    let v = s
        .post(
            "/rest/v1/activities/external/type.json",
            &json!({"apiName": "load", "name": "Load", "triggerName": "Loads", "filterName": "Loaded",
                    "primaryAttribute": {"apiName": "page", "name": "Page"}}),
        )
        .await;
    let type_id = result(&v)[0]["id"].as_u64().unwrap();
    result(
        &s.post(
            "/rest/v1/activities/external/type/load/attributes/create.json",
            &json!({"attributes": [
        {"apiName": "ms", "name": "Ms", "dataType": "integer"}]}),
        )
        .await,
    );
    result(
        &s.post_empty("/rest/v1/activities/external/type/load/approve.json")
            .await,
    );

    let bodies = bodies.get_or_insert_with(|| Bodies::new(type_id));
    assert_eq!(bodies.type_id, type_id);
    let owned = bodies.per_client.clone();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client_bodies in owned {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(client_bodies.len());
            for body in client_bodies {
                let t = Instant::now();
                let r = s
                    .client
                    .post(s.url("/rest/v1/activities/external.json"))
                    .bearer_auth(s.token())
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                // Checked without building a `Value` tree: the client shares the two cores
                // with the server, and its parsing is not what is measured.
                let bytes = r.bytes().await.unwrap();
                let reply: AddReply<'_> = serde_json::from_slice(&bytes).unwrap();
                assert!(reply.success);
                assert_eq!(reply.result.len(), ITEMS_PER_CALL);
                assert!(reply.result.iter().all(|r| r.status == "added"));
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let total = latencies.len() * ITEMS_PER_CALL;
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let round = Round {
        rate: total as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        max: latencies[latencies.len() - 1],
    };
    println!(
        "  round ({label}): {total} in {:.2} s = {:.0} activities/s; {} calls of {ITEMS_PER_CALL} from {CLIENTS} clients; latency p50 {:?}, p99 {:?}, max {:?}",
        elapsed.as_secs_f64(),
        round.rate,
        latencies.len(),
        round.p50,
        round.p99,
        round.max,
    );
    Arc::into_inner(s).unwrap().stop().await.unwrap();
    (round, total)
}
