//! The HTTP layer end to end over loopback, against the in-memory fake backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use support::fake::Fake;
use support::{error_code, parse_csv, result, TestServer, CLIENT_ID, CLIENT_SECRET};

async fn start() -> (TestServer, Arc<Fake>) {
    let fake = Arc::new(Fake::new());
    (TestServer::start(fake.clone()).await, fake)
}

async fn create_approved_type(s: &TestServer, api: &str) -> u32 {
    let v = s
        .post(
            "/rest/v1/activities/external/type.json",
            &json!({"apiName": api, "name": format!("{api} name"), "triggerName": format!("{api} t"), "filterName": format!("{api} f"),
                    "primaryAttribute": {"apiName": "title", "name": "Title"}}),
        )
        .await;
    let id = result(&v)[0]["id"].as_u64().unwrap() as u32;
    let v = s
        .post(
            &format!("/rest/v1/activities/external/type/{api}/attributes/create.json"),
            &json!({"attributes": [
        {"apiName": "size", "name": "Size", "dataType": "integer"},
        {"apiName": "note", "name": "Note", "dataType": "string"}]}),
        )
        .await;
    result(&v);
    let v = s
        .post_empty(&format!(
            "/rest/v1/activities/external/type/{api}/approve.json"
        ))
        .await;
    assert_eq!(result(&v)[0]["status"], "approved");
    id
}

fn activity(lead: u64, date: &str, type_id: u32, title: &str) -> Value {
    json!({"leadId": lead, "activityDate": date, "activityTypeId": type_id, "primaryAttributeValue": title,
           "attributes": [{"apiName": "size", "value": 3}, {"name": "Note", "value": "a, \"quoted\"\nline"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_issues_one_token_and_refuses_bad_credentials() {
    let (s, _) = start().await;
    let again = s.login().await;
    assert_eq!(again, s.token(), "same token while valid");
    assert_eq!(again.len(), 64);
    let r = s
        .client
        .post(s.url("/identity/oauth/token"))
        .query(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["access_token"], s.token());
    assert_eq!(v["token_type"], "bearer");
    assert!(v["expires_in"].as_u64().unwrap() >= 3590);
    assert_eq!(v["scope"], CLIENT_ID);

    let r = s
        .client
        .get(s.url("/identity/oauth/token"))
        .query(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "unauthorized");
    assert_eq!(v["error_description"], "Bad Client Credentials");
    let r = s
        .client
        .get(s.url("/identity/oauth/token"))
        .query(&[
            ("grant_type", "client_credentials"),
            ("client_id", "x"),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let r = s
        .client
        .get(s.url("/identity/oauth/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_required_and_expire() {
    let fake = Arc::new(Fake::new());
    let s = TestServer::start_with(fake, |o| o.token_ttl_secs = 1).await;
    let r = s
        .client
        .get(s.url("/rest/v1/activities/types.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(error_code(&r.json().await.unwrap()), "601");
    let r = s
        .client
        .get(s.url("/rest/v1/activities/types.json"))
        .bearer_auth("0123")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(&r.json().await.unwrap()), "601");
    let r = s
        .client
        .get(s.url("/rest/v1/activities/types.json"))
        .query(&[("access_token", s.token())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["success"],
        true,
        "token as query parameter"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = s
        .client
        .get(s.url("/rest/v1/activities/types.json"))
        .bearer_auth(s.token())
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(&r.json().await.unwrap()), "602");
    let fresh = s.login().await;
    assert_ne!(fresh, s.token());
    let r = s
        .client
        .get(s.url("/rest/v1/activities/types.json"))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["success"], true);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelope_errors_and_limits() {
    let (s, _) = start().await;
    let v = s.get("/rest/v1/nothing.json").await;
    assert_eq!(error_code(&v), "610");
    let v = s
        .get("/rest/v1/activities/external/type/%FF%FE/describe.json")
        .await;
    assert_eq!(error_code(&v), "1003", "a path that is not UTF-8");
    let r = s
        .client
        .delete(s.url("/rest/v1/activities/types.json"))
        .bearer_auth(s.token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(error_code(&r.json().await.unwrap()), "605");
    let post_raw = |body: &'static str, ct: &'static str| {
        s.client
            .post(s.url("/rest/v1/activities/external/type.json"))
            .bearer_auth(s.token())
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let v: Value = post_raw("{nope", "application/json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(error_code(&v), "609");
    let v: Value = post_raw("{}", "text/plain")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(error_code(&v), "612");
    let v: Value = post_raw(r#"{"name": "x"}"#, "application/json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(error_code(&v), "1002");
    let big = format!("{{\"input\": \"{}\"}}", "x".repeat(1_100_000));
    let r = s
        .client
        .post(s.url("/rest/v1/activities/external.json"))
        .bearer_auth(s.token())
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let long = format!("/rest/v1/activities.json?x={}", "a".repeat(9000));
    let r = s
        .client
        .get(s.url(&long))
        .bearer_auth(s.token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 414);
    // Marketo's 414 workaround: POST with _method=GET, the query string in a form body.
    let token = result(&s.get("/rest/v1/activities/types.json").await).len();
    assert!(token >= 2);
    let form = format!(
        "sinceDatetime=2020-01-01T00:00:00Z&pad={}",
        "a".repeat(9000)
    );
    let r = s
        .client
        .post(s.url("/rest/v1/activities/pagingtoken.json?_method=GET"))
        .bearer_auth(s.token())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["success"], true, "{v}");
    assert!(v["nextPageToken"].as_str().unwrap().len() > 10);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_type_lifecycle_and_limits() {
    let (s, _) = start().await;
    let v = s.post("/rest/v1/activities/external/type.json", &json!({"apiName": "attendConference", "name": "Attend Conference",
        "description": "Attend the conference", "triggerName": "Attends Conference", "filterName": "Attended Conference",
        "primaryAttribute": {"apiName": "conferenceName", "name": "Conference Name", "description": "Name of the conference"}})).await;
    let t = &result(&v)[0];
    assert_eq!(t["status"], "draft");
    assert_eq!(
        t["primaryAttribute"]["dataType"], "string",
        "default data type"
    );
    assert!(t["id"].as_u64().unwrap() > 100_000);
    let v = s.get("/rest/v1/activities/types.json").await;
    assert!(
        !result(&v).iter().any(|t| t["name"] == "Attend Conference"),
        "drafts are not live"
    );
    // Partial update.
    let v = s
        .post(
            "/rest/v1/activities/external/type/attendConference.json",
            &json!({"description": "New"}),
        )
        .await;
    assert_eq!(result(&v)[0]["description"], "New");
    assert_eq!(result(&v)[0]["name"], "Attend Conference");
    let v = s
        .post_empty("/rest/v1/activities/external/type/attendConference/approve.json")
        .await;
    assert_eq!(result(&v)[0]["status"], "approved");
    let v = s
        .post_empty("/rest/v1/activities/external/type/attendConference/approve.json")
        .await;
    assert_eq!(error_code(&v), "709");
    // Approve with a JSON content type and an empty body (marketorestpython) is fine too.
    let v = s
        .post(
            "/rest/v1/activities/external/type/attendConference/attributes/create.json",
            &json!({"attributes": [
        {"apiName": "conferenceDate", "name": "Conference Date", "dataType": "datetime"}]}),
        )
        .await;
    assert_eq!(result(&v)[0]["status"], "approved with draft");
    let v = s
        .get("/rest/v1/activities/external/type/attendConference/describe.json")
        .await;
    assert_eq!(
        result(&v)[0]["attributes"].as_array().unwrap().len(),
        0,
        "live version"
    );
    let v = s
        .get("/rest/v1/activities/external/type/attendConference/describe.json?draft=True")
        .await;
    assert_eq!(result(&v)[0]["attributes"][0]["apiName"], "conferenceDate");
    let v = s
        .post(
            "/rest/v1/activities/external/type/attendConference/attributes/update.json",
            &json!({"attributes": [
        {"apiName": "conferenceDate", "name": "Date"}]}),
        )
        .await;
    assert_eq!(result(&v)[0]["attributes"][0]["name"], "Date");
    let v = s
        .post(
            "/rest/v1/activities/external/type/attendConference/attributes/update.json",
            &json!({"attributes": [
        {"apiName": "nope", "name": "Date"}]}),
        )
        .await;
    assert_eq!(error_code(&v), "1006");
    let v = s
        .post_empty("/rest/v1/activities/external/type/attendConference/discardDraft.json")
        .await;
    assert_eq!(result(&v)[0]["status"], "approved");
    let v = s
        .post_empty("/rest/v1/activities/external/type/attendConference/discardDraft.json")
        .await;
    assert_eq!(error_code(&v), "709");
    let v = s
        .post(
            "/rest/v1/activities/external/type/attendConference/attributes/create.json",
            &json!({"attributes": []}),
        )
        .await;
    assert_eq!(error_code(&v), "701");
    let many: Vec<Value> = (0..21)
        .map(
            |i| json!({"apiName": format!("a{i}"), "name": format!("A {i}"), "dataType": "string"}),
        )
        .collect();
    let v = s
        .post(
            "/rest/v1/activities/external/type/attendConference/attributes/create.json",
            &json!({"attributes": many}),
        )
        .await;
    assert_eq!(error_code(&v), "1028");
    let v = s.get("/rest/v1/activities/external/types.json").await;
    assert_eq!(result(&v).len(), 1);
    let v = s.get("/rest/v1/activities/types.json").await;
    assert!(result(&v)
        .iter()
        .any(|t| t["apiName"] == "attendConference"));
    let v = s
        .get("/rest/v1/activities/external/type/unknown/describe.json")
        .await;
    assert_eq!(error_code(&v), "1013");
    for i in 0..9 {
        let v = s.post("/rest/v1/activities/external/type.json", &json!({"apiName": format!("t{i}"), "name": "n", "triggerName": "t", "filterName": "f", "primaryAttribute": {"apiName": "p", "name": "P"}})).await;
        result(&v);
    }
    let v = s.post("/rest/v1/activities/external/type.json", &json!({"apiName": "eleventh", "name": "n", "triggerName": "t", "filterName": "f", "primaryAttribute": {"apiName": "p", "name": "P"}})).await;
    assert_eq!(error_code(&v), "1027");
    let v = s
        .post_empty("/rest/v1/activities/external/type/attendConference/delete.json")
        .await;
    assert_eq!(result(&v)[0]["status"], "deleted");
    let v = s.get("/rest/v1/activities/external/types.json").await;
    assert_eq!(result(&v).len(), 9);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_activities_reports_each_item_in_order() {
    let (s, fake) = start().await;
    let id = create_approved_type(&s, "buy").await;
    let v = s.post("/rest/v1/activities/external.json", &json!({"input": [
        activity(1, "2024-01-01T00:00:00Z", id, "a"),
        {"leadId": 2, "activityDate": "not a date", "activityTypeId": id, "primaryAttributeValue": "b"},
        activity(3, "2024-01-01T00:00:00+01:00", 999, "c"),
        {"leadId": 4, "activityDate": "2024-01-02", "activityTypeId": id, "primaryAttributeValue": "d", "attributes": [{"apiName": "zzz", "value": 1}]},
        {"activityDate": "2024-01-02", "activityTypeId": id, "primaryAttributeValue": "e"},
        activity(5, "2024-01-02T10:00-0500", id, "f"),
    ]})).await;
    let r = result(&v);
    assert_eq!(r.len(), 6);
    assert_eq!(
        r[0],
        json!({"id": 0, "marketoGUID": "0", "status": "added"})
    );
    assert_eq!(r[1]["status"], "skipped");
    assert_eq!(r[1]["reasons"][0]["code"], "1001");
    assert_eq!(r[1]["errors"][0]["code"], "1001");
    assert_eq!(r[2]["reasons"][0]["code"], "1003");
    assert_eq!(r[3]["reasons"][0]["code"], "1006");
    assert_eq!(r[4]["reasons"][0]["code"], "1002");
    assert_eq!(r[5]["id"], 1);
    let stored = fake.activities();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].occurred_at_ms, 1_704_207_600_000);
    let too_many: Vec<Value> = (0..301)
        .map(|i| activity(i, "2024-01-01", id, "x"))
        .collect();
    assert_eq!(
        error_code(
            &s.post(
                "/rest/v1/activities/external.json",
                &json!({"input": too_many})
            )
            .await
        ),
        "1003"
    );
    assert_eq!(
        error_code(
            &s.post("/rest/v1/activities/external.json", &json!({}))
                .await
        ),
        "1002"
    );
    assert_eq!(
        error_code(
            &s.post("/rest/v1/activities/external.json", &json!({"input": []}))
                .await
        ),
        "701"
    );
    // Idempotency key (an actlog extension): the retry answers the original id.
    let mut keyed = activity(9, "2024-01-03", id, "k");
    keyed["idempotencyKey"] = json!("k-1");
    let first = s
        .post(
            "/rest/v1/activities/external.json",
            &json!({"input": [keyed.clone()]}),
        )
        .await;
    let again = s
        .post(
            "/rest/v1/activities/external.json",
            &json!({"input": [keyed]}),
        )
        .await;
    assert_eq!(result(&first)[0]["id"], result(&again)[0]["id"]);
    assert_eq!(fake.activities().len(), 3);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_is_ascending_and_exact_while_activities_arrive() {
    let (s, _) = start().await;
    let s = Arc::new(s);
    let id = create_approved_type(&s, "visit").await;
    let other = create_approved_type(&s, "other").await;
    // Out-of-order dates, with ties, across two types.
    let batch = |start: u64| -> Value {
        let input: Vec<Value> = (start..start + 100)
            .map(|i| {
                activity(
                    i % 7,
                    &format!("2024-02-{:02}T00:00:{:02}Z", 1 + (i * 13) % 20, i % 3),
                    if i % 5 == 0 { other } else { id },
                    &format!("p{i}"),
                )
            })
            .collect();
        json!({"input": input})
    };
    for k in 0..5 {
        result(
            &s.post("/rest/v1/activities/external.json", &batch(k * 100))
                .await,
        );
    }
    let v = s
        .get("/rest/v1/activities/pagingtoken.json?sinceDatetime=2024-01-01T00:00:00%2B00:00")
        .await;
    let mut token = v["nextPageToken"].as_str().unwrap().to_owned();
    assert!(v.get("result").is_none());
    let writer = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            // Later-dated activities arriving during the scan must be picked up by it.
            for k in 0..5u64 {
                let input: Vec<Value> = (0..20)
                    .map(|i| {
                        activity(
                            100 + i,
                            &format!("2024-03-01T00:{:02}:00Z", k * 10 + i % 10),
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
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let mut seen: Vec<(String, u64)> = Vec::new();
    let mut pages = 0;
    loop {
        let v = s.get(&format!("/rest/v1/activities.json?activityTypeIds={id}&activityTypeIds={other}&batchSize=37&nextPageToken={token}")).await;
        assert_eq!(v["success"], true);
        assert!(
            v["moreResult"].is_boolean() && v["nextPageToken"].is_string(),
            "{v}"
        );
        for a in v["result"].as_array().unwrap() {
            seen.push((
                a["activityDate"].as_str().unwrap().to_owned(),
                a["id"].as_u64().unwrap(),
            ));
        }
        token = v["nextPageToken"].as_str().unwrap().to_owned();
        pages += 1;
        if v["moreResult"] == false {
            if writer.is_finished() {
                // One more call after the writer finished: catch anything that landed late.
                let v = s.get(&format!("/rest/v1/activities.json?activityTypeIds={id},{other}&batchSize=300&nextPageToken={token}")).await;
                for a in v["result"].as_array().unwrap() {
                    seen.push((
                        a["activityDate"].as_str().unwrap().to_owned(),
                        a["id"].as_u64().unwrap(),
                    ));
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(pages < 1000);
    }
    writer.await.unwrap();
    assert!(pages > 10, "{pages}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "ascending by (date, id)");
    let ids: std::collections::BTreeSet<u64> = seen.iter().map(|x| x.1).collect();
    assert_eq!(ids.len(), seen.len(), "no duplicates");
    assert_eq!(ids.len(), 600, "every activity exactly once");
    // Filtering by lead and the parameter errors.
    let first = s
        .get("/rest/v1/activities/pagingtoken.json?sinceDatetime=2024-01-01")
        .await["nextPageToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let v = s
        .get(&format!(
            "/rest/v1/activities.json?activityTypeIds={id}&leadIds=3&nextPageToken={first}"
        ))
        .await;
    assert!(result(&v).iter().all(|a| a["leadId"] == 3) && !result(&v).is_empty());
    assert_eq!(
        error_code(
            &s.get(&format!("/rest/v1/activities.json?activityTypeIds={id}"))
                .await
        ),
        "1002"
    );
    assert_eq!(
        error_code(
            &s.get(&format!("/rest/v1/activities.json?nextPageToken={first}"))
                .await
        ),
        "1002"
    );
    assert_eq!(
        error_code(
            &s.get(&format!(
                "/rest/v1/activities.json?activityTypeIds=x&nextPageToken={first}"
            ))
            .await
        ),
        "1001"
    );
    assert_eq!(
        error_code(
            &s.get(&format!(
                "/rest/v1/activities.json?activityTypeIds={id}&nextPageToken=%21%21"
            ))
            .await
        ),
        "1001"
    );
    assert_eq!(error_code(&s.get(&format!("/rest/v1/activities.json?activityTypeIds=1,2,3,4,5,6,7,8,9,10,11&nextPageToken={first}")).await), "1003");
    assert_eq!(
        error_code(
            &s.get("/rest/v1/activities/pagingtoken.json?sinceDatetime=2015-04-0113")
                .await
        ),
        "1001"
    );
    assert_eq!(
        error_code(&s.get("/rest/v1/activities/pagingtoken.json").await),
        "1002"
    );
    let v = s
        .get(&format!(
            "/rest/v1/activities/deletedleads.json?nextPageToken={first}"
        ))
        .await;
    assert_eq!(
        (v["moreResult"].clone(), v["nextPageToken"].clone()),
        (json!(false), json!(first))
    );
    let v = s
        .get(&format!(
            "/rest/v1/activities/leadchanges.json?fields=email&nextPageToken={first}"
        ))
        .await;
    assert_eq!(v["moreResult"], false);
    Arc::into_inner(s).unwrap().stop().await.unwrap();
}

async fn wait_for_status(s: &TestServer, id: &str, want: &str) -> Value {
    for _ in 0..200 {
        let v = s
            .get(&format!("/bulk/v1/activities/export/{id}/status.json"))
            .await;
        if result(&v)[0]["status"] == want {
            return result(&v)[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("job {id} never reached {want}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_export_files_match_the_activities() {
    let (s, fake) = start().await;
    let id = create_approved_type(&s, "buy").await;
    let input: Vec<Value> = (0..250)
        .map(|i| {
            activity(
                i,
                &format!("2024-05-{:02}T12:00:00Z", 1 + i % 28),
                id,
                &format!("title {i}"),
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
    let out_of_range = activity(1, "2024-07-01", id, "late");
    result(
        &s.post(
            "/rest/v1/activities/external.json",
            &json!({"input": [out_of_range]}),
        )
        .await,
    );

    let v = s.post("/bulk/v1/activities/export/create.json", &json!({"format": "CSV", "fields": null,
        "filter": {"createdAt": {"startAt": "2024-05-01T00:00:00+00:00", "endAt": "2024-05-31T23:59:59+00:00"}, "activityTypeIds": [id]}})).await;
    let job = result(&v)[0].clone();
    assert_eq!(job["status"], "Created");
    let export_id = job["exportId"].as_str().unwrap().to_owned();
    let r = s
        .client
        .get(s.url(&format!("/bulk/v1/activities/export/{export_id}/file.json")))
        .bearer_auth(s.token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "no file before completion");
    let v = s
        .post_empty(&format!(
            "/bulk/v1/activities/export/{export_id}/enqueue.json"
        ))
        .await;
    assert!(
        ["Queued", "Processing", "Completed"].contains(&result(&v)[0]["status"].as_str().unwrap())
    );
    let v = s
        .post_empty(&format!(
            "/bulk/v1/activities/export/{export_id}/enqueue.json"
        ))
        .await;
    assert!(["1029", "709"].contains(&error_code(&v)));
    let done = wait_for_status(&s, &export_id, "Completed").await;
    assert_eq!(done["numberOfRecords"], 250);
    assert!(done["fileChecksum"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    let r = s
        .client
        .get(s.url(&format!("/bulk/v1/activities/export/{export_id}/file.json")))
        .bearer_auth(s.token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let bytes = r.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, done["fileSize"].as_u64().unwrap());
    let rows = parse_csv(std::str::from_utf8(&bytes).unwrap(), ',');
    assert_eq!(
        rows[0],
        vec![
            "marketoGUID",
            "leadId",
            "activityDate",
            "activityTypeId",
            "campaignId",
            "primaryAttributeValueId",
            "primaryAttributeValue",
            "attributes"
        ]
    );
    let mut expected: Vec<_> = fake
        .activities()
        .into_iter()
        .filter(|a| a.occurred_at_ms < 1_719_792_000_000)
        .collect();
    expected.sort_by_key(|a| (a.occurred_at_ms, a.id));
    assert_eq!(rows.len() - 1, expected.len());
    for (row, a) in rows[1..].iter().zip(&expected) {
        assert_eq!(row[0], a.id.to_string());
        assert_eq!(row[1], a.lead_id.to_string());
        assert_eq!(row[3], id.to_string());
        assert_eq!(row[4], "null");
        assert_eq!(
            row[6],
            a.primary_attribute_value
                .as_ref()
                .unwrap()
                .as_str()
                .unwrap()
        );
        let attrs: Value = serde_json::from_str(&row[7]).unwrap();
        assert_eq!(attrs, json!({"Size": 3, "Note": "a, \"quoted\"\nline"}));
    }
    // Range requests.
    let r = s
        .client
        .get(s.url(&format!("/bulk/v1/activities/export/{export_id}/file.json")))
        .bearer_auth(s.token())
        .header("Range", "bytes=0-0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 0-0/{}", bytes.len())
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"m");
    let r = s
        .client
        .get(s.url(&format!("/bulk/v1/activities/export/{export_id}/file.json")))
        .bearer_auth(s.token())
        .header("Range", "bytes=100-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap(), bytes.slice(100..));
    let r = s
        .client
        .get(s.url(&format!("/bulk/v1/activities/export/{export_id}/file.json")))
        .bearer_auth(s.token())
        .header("Range", format!("bytes={}-", bytes.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);

    // Custom fields, headers and TSV.
    let v = s.post("/bulk/v1/activities/export/create.json", &json!({"format": "tsv", "fields": ["leadId", "primaryAttributeValue", "actionResult"],
        "columnHeaderNames": {"leadId": "Lead"}, "filter": {"createdAt": {"startAt": "2024-05-01", "endAt": "2024-05-02T23:59:59Z"}, "activityTypeIds": [id],
        "primaryAttributeValues": ["title 28", "title 1"]}})).await;
    let tsv_id = result(&v)[0]["exportId"].as_str().unwrap().to_owned();
    result(
        &s.post_empty(&format!("/bulk/v1/activities/export/{tsv_id}/enqueue.json"))
            .await,
    );
    wait_for_status(&s, &tsv_id, "Completed").await;
    let text = s
        .client
        .get(s.url(&format!("/bulk/v1/activities/export/{tsv_id}/file.json")))
        .bearer_auth(s.token())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, "Lead\tprimaryAttributeValue\tactionResult\n28\ttitle 28\tsucceeded\n1\ttitle 1\tsucceeded\n");

    // Cancel, list, errors.
    let v = s
        .post(
            "/bulk/v1/activities/export/create.json",
            &json!({"filter": {"createdAt": {"startAt": "2024-05-01", "endAt": "2024-05-02"}}}),
        )
        .await;
    let cancel_id = result(&v)[0]["exportId"].as_str().unwrap().to_owned();
    let v = s
        .post_empty(&format!(
            "/bulk/v1/activities/export/{cancel_id}/cancel.json"
        ))
        .await;
    assert_eq!(result(&v)[0]["status"], "Cancelled");
    let v = s
        .post_empty(&format!(
            "/bulk/v1/activities/export/{cancel_id}/enqueue.json"
        ))
        .await;
    assert_eq!(error_code(&v), "709");
    let v = s
        .post_empty(&format!(
            "/bulk/v1/activities/export/{export_id}/cancel.json"
        ))
        .await;
    assert_eq!(error_code(&v), "709");
    let v = s
        .get("/bulk/v1/activities/export.json?status=Completed&status=canceled")
        .await;
    assert_eq!(result(&v).len(), 3);
    assert!(v.get("nextPageToken").is_none());
    let v = s
        .get("/bulk/v1/activities/export.json?status=Completed&batchSize=1")
        .await;
    assert_eq!(result(&v).len(), 1);
    let next = v["nextPageToken"].as_str().unwrap().to_owned();
    let v = s
        .get(&format!(
            "/bulk/v1/activities/export.json?status=Completed&batchSize=1&nextPageToken={next}"
        ))
        .await;
    assert_eq!(result(&v).len(), 1);
    assert!(v.get("nextPageToken").is_none());
    assert_eq!(
        error_code(
            &s.get("/bulk/v1/activities/export/00000000-0000-4000-8000-000000000000/status.json")
                .await
        ),
        "1013"
    );
    assert_eq!(
        error_code(
            &s.post(
                "/bulk/v1/activities/export/create.json",
                &json!({"filter": {"createdAt": {"startAt": "2024-01-01", "endAt": "2024-03-01"}}})
            )
            .await
        ),
        "1003"
    );
    assert_eq!(error_code(&s.post("/bulk/v1/activities/export/create.json", &json!({"filter": {"createdAt": {"startAt": "2024-01-01", "endAt": "2024-01-02"}, "activityTypeIds": [37]}})).await), "1003");
    let r = s
        .client
        .get(s.url("/bulk/v1/activities/export/nope/file.json"))
        .bearer_auth(s.token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_queue_limit_gives_1029() {
    let fake = Arc::new(Fake::new());
    let s = TestServer::start_with(fake, |o| {
        o.export_jobs_queued_max = 1;
        o.export_jobs_kept_max = 3;
    })
    .await;
    let body = json!({"filter": {"createdAt": {"startAt": "2024-05-01", "endAt": "2024-05-02"}}});
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            result(
                &s.post("/bulk/v1/activities/export/create.json", &body)
                    .await,
            )[0]["exportId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        error_code(
            &s.post("/bulk/v1/activities/export/create.json", &body)
                .await
        ),
        "1029"
    );
    result(
        &s.post_empty(&format!(
            "/bulk/v1/activities/export/{}/enqueue.json",
            ids[0]
        ))
        .await,
    );
    let second = s
        .post_empty(&format!(
            "/bulk/v1/activities/export/{}/enqueue.json",
            ids[1]
        ))
        .await;
    // The first (empty) job may already have completed, which frees the queue.
    if second["success"] == false {
        assert_eq!(error_code(&second), "1029");
        assert_eq!(second["errors"][0]["message"], "Too many jobs in queue");
    }
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_leads_and_actlog_endpoints() {
    let (s, fake) = start().await;
    let v = s.get("/rest/v1/stats/usage.json").await;
    assert!(result(&v)[0]["total"].as_u64().unwrap() >= 1);
    let v = s.get("/rest/v1/leads/describe.json").await;
    assert_eq!(result(&v)[0]["rest"]["name"], "id");
    let v = s.post("/bulk/v1/leads/export/create.json", &json!({"format": "CSV", "fields": ["id"], "filter": {"updatedAt": {"startAt": "2024-01-01", "endAt": "2024-01-02"}}})).await;
    assert_eq!(error_code(&v), "1035");
    let id = create_approved_type(&s, "q").await;
    let input: Vec<Value> = (0..2500)
        .map(|i| activity(i % 40, "2024-01-01", id, "x"))
        .collect();
    for chunk in input.chunks(300) {
        result(
            &s.post(
                "/rest/v1/activities/external.json",
                &json!({"input": chunk}),
            )
            .await,
        );
    }
    assert_eq!(fake.activities().len(), 2500);
    let r = s
        .client
        .post(s.url("/actlog/v1/query"))
        .bearer_auth(s.token())
        .json(&json!({"filter": {"typeIds": [id]}, "limit": 2100}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let text = r.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2101);
    assert_eq!(lines[0]["activityTypeId"], id);
    assert_eq!(lines[2100], json!({"cursor": "2100", "count": 2100}));
    let r = s
        .client
        .post(s.url("/actlog/v1/query"))
        .bearer_auth(s.token())
        .json(&json!({"filter": {"typeIds": [id]}, "cursor": "2100"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap().lines().count(), 401);
    let r = s
        .client
        .post(s.url("/actlog/v1/query"))
        .bearer_auth(s.token())
        .json(&json!({"filter": "bad"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(&r.json().await.unwrap()), "1003");
    let r = s
        .client
        .post(s.url("/actlog/v1/query"))
        .bearer_auth(s.token())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(&r.json().await.unwrap()), "1002");
    let v = s
        .post(
            "/actlog/v1/people",
            &json!({"smartList": "did q", "limit": 5}),
        )
        .await;
    assert_eq!(
        result(&v)[0],
        json!({"count": 40, "personIds": [0, 1, 2, 3, 4]})
    );
    let v = s.get("/actlog/v1/stats").await;
    assert_eq!(result(&v)[0]["activities"], 2500);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_and_syncs() {
    let (s, fake) = start().await;
    let id = create_approved_type(&s, "z").await;
    let client = s.client.clone();
    let url = s.url("/rest/v1/activities/external.json");
    let token = s.token().to_owned();
    let inflight = tokio::spawn(async move {
        let input: Vec<Value> = (0..300)
            .map(|i| activity(i, "2024-01-01", id, "x"))
            .collect();
        client
            .post(url)
            .bearer_auth(token)
            .json(&json!({"input": input}))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(1)).await;
    s.stop().await.unwrap();
    assert_eq!(fake.syncs.load(Ordering::SeqCst), 1);
    // The in-flight request either completed whole or never started: never half a batch.
    let n = fake.activities().len();
    assert!(n == 0 || n == 300, "{n}");
    if let Ok(r) = inflight.await.unwrap() {
        let v: Value = r.json().await.unwrap();
        assert_eq!(result(&v).len(), 300);
        assert_eq!(n, 300);
    }
}
