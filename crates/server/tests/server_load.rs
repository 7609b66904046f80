//! Ingest throughput over HTTP: 8 concurrent clients adding 300 activities per call to a
//! real engine on loopback. Ignored by default (it measures, it does not check much); run
//! in release mode:
//!
//! ```sh
//! cargo test --release -p actlog-server --test server_load -- --ignored --nocapture
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

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
const CALLS_PER_CLIENT: usize = 200;
const ITEMS_PER_CALL: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run in release mode with --ignored --nocapture"]
async fn add_activities_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path().join("data"), Options::default()).unwrap();
    let backend = Arc::new(EngineBackend::new(engine.clone()));
    let total = measure("engine", backend).await;
    assert_eq!(engine.stats().unwrap().activities, total as u64);
}

/// The same load against the in-memory fake: the HTTP layer's own ceiling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run in release mode with --ignored --nocapture"]
async fn add_activities_throughput_http_layer_only() {
    let fake = Arc::new(support::fake::Fake::new());
    let total = measure("in-memory fake", fake.clone()).await;
    assert_eq!(fake.activities().len(), total);
}

async fn measure(label: &str, backend: Arc<dyn actlog_server::Backend>) -> usize {
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

    // Bodies are built before the clock starts: the server's work is measured, not the client's.
    let bodies: Vec<Vec<String>> = (0..CLIENTS)
        .map(|c| {
            (0..CALLS_PER_CLIENT)
                .map(|k| {
                    let input: Vec<Value> = (0..ITEMS_PER_CALL)
                        .map(|i| {
                            let n = (c * CALLS_PER_CLIENT + k) * ITEMS_PER_CALL + i;
                            json!({"leadId": n % 100_000, "activityDate": "2024-05-01T12:00:00Z", "activityTypeId": type_id,
                                   "primaryAttributeValue": format!("/page/{}", n % 500), "attributes": [{"apiName": "ms", "value": n % 1000}]})
                        })
                        .collect();
                    json!({"input": input}).to_string()
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client_bodies in bodies {
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
    let total = CLIENTS * CALLS_PER_CLIENT * ITEMS_PER_CALL;
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "add activities over HTTP ({label}): {total} in {:.2} s = {:.0} activities/s; {} calls of {ITEMS_PER_CALL} from {CLIENTS} clients; latency p50 {:?}, p99 {:?}, max {:?}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        latencies.len(),
        pct(0.50),
        pct(0.99),
        latencies[latencies.len() - 1],
    );
    Arc::into_inner(s).unwrap().stop().await.unwrap();
    total
}
