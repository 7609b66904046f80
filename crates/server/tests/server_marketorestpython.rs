//! marketorestpython from PyPI, unmodified except for its host, against the server over
//! a real engine. Needs python3 with venv and access to PyPI, so it is ignored by default:
//!
//! ```sh
//! cargo test -p actlog-server --test server_marketorestpython -- --ignored --nocapture
//! ```
//!
//! The venv is kept in `target/marketorestpython-venv` between runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use actlog::{Engine, Options};
use actlog_server::{EngineBackend, Server, ServerOptions};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

const PACKAGE: &str = "marketorestpython==0.5.25";

fn venv_python() -> PathBuf {
    let target =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/marketorestpython-venv");
    let python = target.join("bin/python");
    if !python.exists() {
        let ok = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&target)
            .status()
            .unwrap()
            .success();
        assert!(ok, "python3 -m venv failed");
    }
    let ok = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            PACKAGE,
        ])
        .status()
        .unwrap()
        .success();
    assert!(ok, "pip install {PACKAGE} failed");
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3 and PyPI; run with --ignored"]
async fn marketorestpython_runs_end_to_end() {
    let python = tokio::task::spawn_blocking(venv_python).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path().join("data"), Options::default()).unwrap();
    let options = ServerOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        client_id: "python".into(),
        client_secret: "python-secret".into(),
        exports_dir: dir.path().join("exports"),
        ..ServerOptions::default()
    };
    let server = Server::bind(Arc::new(EngineBackend::new(engine.clone())), options)
        .await
        .unwrap();
    let url = format!("http://{}", server.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/marketorestpython.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("ACTLOG_URL", url)
            .env("ACTLOG_CLIENT_ID", "python")
            .env("ACTLOG_CLIENT_SECRET", "python-secret")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let _ = tx.send(());
    running.await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "script failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("passed, 0 failed"), "{stdout}");
    assert_eq!(engine.replay(actlog::ActivityId(0)).unwrap().count(), 1000);
}
