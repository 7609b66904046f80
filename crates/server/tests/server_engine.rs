//! The server over a real engine in a temporary directory, driven over loopback HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use actlog::{ActivityId, Engine, Options};
use actlog_server::EngineBackend;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use support::{error_code, parse_csv, result, TestServer};

struct Setup {
    server: TestServer,
    engine: Engine,
    dir: tempfile::TempDir,
}

async fn start() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    // Marketo's limit of 10 custom types, so that 1027 can be reached.
    let options = Options {
        custom_types_max: 10,
        ..Options::default()
    };
    let engine = Engine::open(dir.path().join("data"), options).unwrap();
    let server = TestServer::start(Arc::new(EngineBackend::new(engine.clone()))).await;
    Setup {
        server,
        engine,
        dir,
    }
}

async fn create_type(s: &TestServer, api: &str) -> u32 {
    let v = s
        .post(
            "/rest/v1/activities/external/type.json",
            &json!({"apiName": api, "name": format!("{api} name"), "description": "d",
                    "triggerName": format!("Does {api}"), "filterName": format!("Did {api}"),
                    "primaryAttribute": {"apiName": "title", "name": "Title", "description": "the title"}}),
        )
        .await;
    let t = &result(&v)[0];
    assert_eq!(t["status"], "draft", "{v}");
    assert_eq!(t["primaryAttribute"]["dataType"], "string");
    let v = s
        .post(
            &format!("/rest/v1/activities/external/type/{api}/attributes/create.json"),
            &json!({"attributes": [
                {"apiName": "size", "name": "Size", "dataType": "integer"},
                {"apiName": "note", "name": "Note", "dataType": "string", "description": "free text"}]}),
        )
        .await;
    assert_eq!(
        result(&v)[0]["attributes"].as_array().unwrap().len(),
        2,
        "{v}"
    );
    let v = s
        .post_empty(&format!(
            "/rest/v1/activities/external/type/{api}/approve.json"
        ))
        .await;
    assert_eq!(result(&v)[0]["status"], "approved", "{v}");
    result(&v)[0]["id"].as_u64().unwrap() as u32
}

fn activity(lead: u64, date: &str, type_id: u32, title: &str) -> Value {
    json!({"leadId": lead, "activityDate": date, "activityTypeId": type_id, "primaryAttributeValue": title,
           "attributes": [{"apiName": "size", "value": 3}, {"name": "Note", "value": "a, \"quoted\"\nline"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn types_follow_the_engine_lifecycle() {
    let Setup {
        server: s,
        engine,
        dir: _dir,
    } = start().await;
    let standard = s.get("/rest/v1/activities/types.json").await;
    let before = result(&standard).len();
    assert!(before >= 5, "standard types are listed: {standard}");
    let id = create_type(&s, "attendConference").await;
    assert!(id >= 100_000, "{id}");
    let v = s.get("/rest/v1/activities/types.json").await;
    assert_eq!(result(&v).len(), before + 1);
    let v = s.get("/rest/v1/activities/external/types.json").await;
    assert_eq!(result(&v).len(), 1);
    assert_eq!(result(&v)[0]["apiName"], "attendConference");
    assert!(result(&v)[0]["createdAt"].as_str().unwrap().ends_with('Z'));
    // Approve without a draft.
    let v = s
        .post_empty("/rest/v1/activities/external/type/attendConference/approve.json")
        .await;
    assert_eq!(error_code(&v), "709");
    let v = s
        .post_empty("/rest/v1/activities/external/type/attendConference/discardDraft.json")
        .await;
    assert_eq!(error_code(&v), "709");
    // A draft on an approved type.
    let v = s
        .post(
            "/rest/v1/activities/external/type/attendConference.json",
            &json!({"description": "changed"}),
        )
        .await;
    assert_eq!(result(&v)[0]["status"], "approved with draft", "{v}");
    assert_eq!(result(&v)[0]["description"], "changed");
    let live = s
        .get("/rest/v1/activities/external/type/attendConference/describe.json")
        .await;
    assert_eq!(result(&live)[0]["description"], "d");
    let draft = s
        .get("/rest/v1/activities/external/type/attendConference/describe.json?draft=true")
        .await;
    assert_eq!(result(&draft)[0]["description"], "changed");
    let v = s
        .post_empty("/rest/v1/activities/external/type/attendConference/discardDraft.json")
        .await;
    assert_eq!(result(&v)[0]["status"], "approved");
    let v = s
        .post(
            "/rest/v1/activities/external/type/attendConference/attributes/update.json",
            &json!({"attributes": [{"apiName": "note", "name": "Remark"}]}),
        )
        .await;
    assert_eq!(result(&v)[0]["attributes"][1]["name"], "Remark", "{v}");
    let v = s
        .post(
            "/rest/v1/activities/external/type/attendConference/attributes/delete.json",
            &json!({"attributes": [{"apiName": "size"}]}),
        )
        .await;
    assert_eq!(
        result(&v)[0]["attributes"].as_array().unwrap().len(),
        1,
        "{v}"
    );
    let v = s
        .post(
            "/rest/v1/activities/external/type/attendConference/attributes/delete.json",
            &json!({"attributes": [{"apiName": "nope"}]}),
        )
        .await;
    assert_eq!(error_code(&v), "1013");
    let many: Vec<Value> = (0..20).map(|i| json!({"apiName": format!("extra{i}"), "name": format!("Extra {i}"), "dataType": "string"})).collect();
    let v = s
        .post(
            "/rest/v1/activities/external/type/attendConference/attributes/create.json",
            &json!({"attributes": many}),
        )
        .await;
    assert_eq!(error_code(&v), "1028");
    let v = s
        .post(
            "/rest/v1/activities/external/type/attendConference/attributes/create.json",
            &json!({"attributes": [{"apiName": "x", "name": "X", "dataType": "blob"}]}),
        )
        .await;
    assert_eq!(error_code(&v), "1001");
    let v = s.post("/rest/v1/activities/external/type.json", &json!({"apiName": "attendConference", "name": "Other", "triggerName": "Other t", "filterName": "Other f", "primaryAttribute": {"apiName": "p", "name": "P"}})).await;
    assert_eq!(error_code(&v), "709");
    let v = s.post("/rest/v1/activities/external/type.json", &json!({"apiName": "bad name!", "name": "Bad", "triggerName": "Bad t", "filterName": "Bad f", "primaryAttribute": {"apiName": "p", "name": "P"}})).await;
    assert_eq!(error_code(&v), "1001", "{v}");
    for i in 0..9 {
        let v = s.post("/rest/v1/activities/external/type.json", &json!({"apiName": format!("type{i}"), "name": format!("Type {i}"), "triggerName": format!("Does {i}"), "filterName": format!("Did {i}"), "primaryAttribute": {"apiName": "p", "name": "P"}})).await;
        result(&v);
    }
    let v = s.post("/rest/v1/activities/external/type.json", &json!({"apiName": "eleventh", "name": "Eleventh", "triggerName": "Does 11", "filterName": "Did 11", "primaryAttribute": {"apiName": "p", "name": "P"}})).await;
    assert_eq!(error_code(&v), "1027");
    let v = s
        .get("/rest/v1/activities/external/type/missing/describe.json")
        .await;
    assert_eq!(error_code(&v), "1013");
    let v = s
        .post_empty("/rest/v1/activities/external/type/type0/delete.json")
        .await;
    assert_eq!(result(&v)[0]["status"], "deleted");
    assert_eq!(
        engine
            .activity_types()
            .iter()
            .filter(|t| t.api_name() == "type0")
            .count(),
        0
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adds_page_and_export_match_the_engine() {
    let Setup {
        server: s,
        engine,
        dir: _dir,
    } = start().await;
    let s = Arc::new(s);
    let id = create_type(&s, "buy").await;
    let draft_only = s.post("/rest/v1/activities/external/type.json", &json!({"apiName": "drafty", "name": "Drafty", "triggerName": "Drafts", "filterName": "Drafted", "primaryAttribute": {"apiName": "p", "name": "P"}})).await;
    let draft_id = result(&draft_only)[0]["id"].as_u64().unwrap() as u32;

    let v = s.post("/rest/v1/activities/external.json", &json!({"input": [
        activity(1, "2024-05-01T10:00:00Z", id, "first"),
        {"leadId": 2, "activityDate": "2024-05-01", "activityTypeId": id, "primaryAttributeValue": "x", "attributes": [{"apiName": "size", "value": "many"}]},
        {"leadId": 2, "activityDate": "2024-05-01", "activityTypeId": id, "primaryAttributeValue": "x", "attributes": [{"apiName": "nope", "value": 1}]},
        activity(3, "2024-05-01", 999_999, "x"),
        activity(4, "2024-05-01", draft_id, "x"),
        {"leadId": 5, "activityDate": "2024-05-01", "activityTypeId": id},
    ]})).await;
    let r = result(&v);
    assert_eq!(r[0]["status"], "added", "{v}");
    let codes: Vec<&str> = r[1..]
        .iter()
        .map(|x| x["reasons"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["1001", "1006", "1013", "1003", "1002"], "{v}");
    let first_id = r[0]["id"].as_u64().unwrap();
    let got = engine.get(ActivityId(first_id)).unwrap().unwrap();
    assert_eq!(got.person.get(), 1);
    assert_eq!(got.occurred_at_ms, 1_714_557_600_000);

    // 900 more, dates shuffled, then paging at 50 per page while 100 later ones arrive.
    for k in 0..3u64 {
        let input: Vec<Value> = (0..300u64)
            .map(|i| {
                let n = k * 300 + i;
                activity(
                    n % 11,
                    &format!("2024-05-{:02}T{:02}:00:00Z", 1 + (n * 7) % 28, n % 24),
                    id,
                    &format!("t{n}"),
                )
            })
            .collect();
        let v = s
            .post(
                "/rest/v1/activities/external.json",
                &json!({"input": input}),
            )
            .await;
        assert!(result(&v).iter().all(|x| x["status"] == "added"), "{v}");
    }
    let token = s
        .get("/rest/v1/activities/pagingtoken.json?sinceDatetime=2024-05-01")
        .await["nextPageToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let writer = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            for k in 0..4u64 {
                let input: Vec<Value> = (0..25)
                    .map(|i| {
                        activity(
                            50 + i,
                            &format!("2024-06-{:02}T00:00:00Z", 1 + k * 5 + i % 5),
                            id,
                            "late",
                        )
                    })
                    .collect();
                result(
                    &s.post(
                        "/rest/v1/activities/external.json",
                        &json!({"input": input}),
                    )
                    .await,
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let mut token = token;
    let mut seen: Vec<(String, u64)> = Vec::new();
    let mut pages = 0;
    loop {
        let v = s
            .get(&format!(
                "/rest/v1/activities.json?activityTypeIds={id}&batchSize=50&nextPageToken={token}"
            ))
            .await;
        assert!(
            v["moreResult"].is_boolean() && v["nextPageToken"].is_string(),
            "{v}"
        );
        for a in result(&v) {
            seen.push((
                a["activityDate"].as_str().unwrap().to_owned(),
                a["id"].as_u64().unwrap(),
            ));
        }
        token = v["nextPageToken"].as_str().unwrap().to_owned();
        pages += 1;
        if v["moreResult"] == false {
            if writer.is_finished() {
                let v = s
                    .get(&format!(
                        "/rest/v1/activities.json?activityTypeIds={id}&nextPageToken={token}"
                    ))
                    .await;
                for a in result(&v) {
                    seen.push((
                        a["activityDate"].as_str().unwrap().to_owned(),
                        a["id"].as_u64().unwrap(),
                    ));
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(pages < 500);
    }
    writer.await.unwrap();
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "ascending (activityDate, id)");
    let all: Vec<actlog::Activity> = engine
        .replay(ActivityId(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(all.len(), 1001);
    let mut expected: Vec<u64> = all.iter().map(|a| a.id.get()).collect();
    expected.sort_unstable();
    let mut got: Vec<u64> = seen.iter().map(|x| x.1).collect();
    got.sort_unstable();
    assert_eq!(got, expected, "every activity exactly once");
    assert!(pages >= 20, "{pages}");

    // Bulk export of May, row by row against the engine.
    let v = s.post("/bulk/v1/activities/export/create.json", &json!({"format": "CSV", "fields": null,
        "filter": {"createdAt": {"startAt": "2024-05-01T00:00:00Z", "endAt": "2024-05-31T23:59:59Z"}, "activityTypeIds": [id]}})).await;
    let export_id = result(&v)[0]["exportId"].as_str().unwrap().to_owned();
    result(
        &s.post_empty(&format!(
            "/bulk/v1/activities/export/{export_id}/enqueue.json"
        ))
        .await,
    );
    let mut status = Value::Null;
    for _ in 0..500 {
        let v = s
            .get(&format!(
                "/bulk/v1/activities/export/{export_id}/status.json"
            ))
            .await;
        status = result(&v)[0].clone();
        if status["status"] == "Completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status["status"], "Completed", "{status}");
    let r = s
        .client
        .get(s.url(&format!("/bulk/v1/activities/export/{export_id}/file.json")))
        .bearer_auth(s.token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert_eq!(text.len() as u64, status["fileSize"].as_u64().unwrap());
    let rows = parse_csv(&text, ',');
    let mut may: Vec<&actlog::Activity> = all
        .iter()
        .filter(|a| a.occurred_at_ms < 1_717_200_000_000)
        .collect();
    may.sort_by_key(|a| (a.occurred_at_ms, a.id));
    assert_eq!(rows.len() - 1, may.len());
    assert_eq!(
        status["numberOfRecords"].as_u64().unwrap() as usize,
        may.len()
    );
    for (row, a) in rows[1..].iter().zip(&may) {
        assert_eq!(row[0], a.id.get().to_string());
        assert_eq!(row[1], a.person.get().to_string());
        assert_eq!(
            row[2],
            actlog::model::time::format_datetime_utc(a.occurred_at_ms)
        );
        assert_eq!(row[3], id.to_string());
        assert_eq!(row[4], "null");
        assert_eq!(row[5], "null");
        assert_eq!(Value::String(row[6].clone()), a.primary.to_json());
        let attrs: Value = serde_json::from_str(&row[7]).unwrap();
        assert_eq!(attrs, json!({"Size": 3, "Note": "a, \"quoted\"\nline"}));
    }

    // The query stream sees the same activities.
    let r = s
        .client
        .post(s.url("/actlog/v1/query"))
        .bearer_auth(s.token())
        .json(&json!({"filter": "type = buy and person = 3", "limit": 100000}))
        .send()
        .await
        .unwrap();
    let lines: Vec<Value> = r
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected = all.iter().filter(|a| a.person.get() == 3).count();
    assert_eq!(lines.len(), expected + 1);
    assert_eq!(lines.last().unwrap()["count"], expected);
    let r = s
        .client
        .post(s.url("/actlog/v1/query"))
        .bearer_auth(s.token())
        .json(&json!({"filter": "type = = ("}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(&r.json().await.unwrap()), "1003");
    let v = s.get("/actlog/v1/stats").await;
    assert_eq!(result(&v)[0]["activities"], 1001);
    // Smart lists: persons 0..=10 did `buy` in May, 50..=74 in June too.
    let v = s
        .post(
            "/actlog/v1/people",
            &json!({"smartList": "did buy", "limit": 3}),
        )
        .await;
    let mut persons: Vec<u64> = all.iter().map(|a| a.person.get()).collect();
    persons.sort_unstable();
    persons.dedup();
    assert_eq!(result(&v)[0]["count"], persons.len(), "{v}");
    assert_eq!(result(&v)[0]["personIds"], json!(persons[..3]));
    let v = s
        .post(
            "/actlog/v1/people",
            &json!({"smartList": "did buy where primary = \"late\" at least 1 times"}),
        )
        .await;
    assert_eq!(result(&v)[0]["count"], 25, "{v}");
    let v = s
        .post("/actlog/v1/people", &json!({"smartList": "did nope"}))
        .await;
    assert_eq!(error_code(&v), "1003");
    Arc::into_inner(s).unwrap().stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_syncs_and_data_survives_reopen() {
    let Setup {
        server: s,
        engine,
        dir,
    } = start().await;
    let id = create_type(&s, "keep").await;
    let input: Vec<Value> = (0..300)
        .map(|i| activity(i, "2024-01-01", id, "x"))
        .collect();
    result(
        &s.post(
            "/rest/v1/activities/external.json",
            &json!({"input": input}),
        )
        .await,
    );
    s.stop().await.unwrap();
    engine.close().unwrap();
    let engine = Engine::open(dir.path().join("data"), Options::default()).unwrap();
    assert_eq!(engine.replay(ActivityId(0)).unwrap().count(), 300);
    assert!(engine.activity_type("keep").is_some());
    engine.close().unwrap();
}
