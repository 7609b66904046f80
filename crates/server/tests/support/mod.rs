//! Shared harness: a server on a loopback port, and a client that logs in.
#![allow(dead_code)]

pub mod fake;

use actlog_server::{Backend, Server, ServerOptions};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::oneshot;

pub const CLIENT_ID: &str = "test-client";
pub const CLIENT_SECRET: &str = "test-secret";

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub exports_dir: tempfile::TempDir,
    token: String,
    shutdown: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<actlog_server::Result<()>>,
}

impl TestServer {
    pub async fn start(backend: Arc<dyn Backend>) -> TestServer {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(
        backend: Arc<dyn Backend>,
        tweak: impl FnOnce(&mut ServerOptions),
    ) -> TestServer {
        let exports_dir = tempfile::tempdir().unwrap();
        let mut options = ServerOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            exports_dir: exports_dir.path().join("exports"),
            ..ServerOptions::default()
        };
        tweak(&mut options);
        let server = Server::bind(backend, options).await.unwrap();
        let base = format!("http://{}", server.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        let client = reqwest::Client::new();
        let mut s = TestServer {
            base,
            client,
            exports_dir,
            token: String::new(),
            shutdown: Some(tx),
            handle,
        };
        s.token = s.login().await;
        s
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn login(&self) -> String {
        let r = self
            .client
            .get(self.url("/identity/oauth/token"))
            .query(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_owned()
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// GET with the bearer token; asserts HTTP 200 and returns the JSON body.
    pub async fn get(&self, path_and_query: &str) -> Value {
        let r = self
            .client
            .get(self.url(path_and_query))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {path_and_query}");
        r.json().await.unwrap()
    }

    /// POST a JSON body with the bearer token; asserts HTTP 200 and returns the JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Value {
        let r = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "POST {path}");
        r.json().await.unwrap()
    }

    /// POST with no body and no content type.
    pub async fn post_empty(&self, path: &str) -> Value {
        let r = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "POST {path}");
        r.json().await.unwrap()
    }

    /// Stops the server the graceful way and returns what `run` returned.
    pub async fn stop(mut self) -> actlog_server::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.handle).await.unwrap()
    }
}

/// The code of the first error of a failed envelope.
pub fn error_code(v: &Value) -> &str {
    assert_eq!(v["success"], false, "expected a failure: {v}");
    v["errors"][0]["code"].as_str().unwrap()
}

/// The `result` array of a successful envelope.
pub fn result(v: &Value) -> &Vec<Value> {
    assert_eq!(v["success"], true, "expected success: {v}");
    v["result"].as_array().unwrap()
}

/// Parses CSV as tap-marketo does (comma, `"` quoting), enough for our files.
pub fn parse_csv(text: &str, delimiter: char) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cell.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                cell.push(c);
            }
        } else if c == '"' {
            quoted = true;
        } else if c == delimiter {
            row.push(std::mem::take(&mut cell));
        } else if c == '\n' {
            row.push(std::mem::take(&mut cell));
            rows.push(std::mem::take(&mut row));
        } else {
            cell.push(c);
        }
    }
    rows
}
