//! HTTP server for actlog that speaks Marketo's activity REST API.
//!
//! Clients written for Marketo (marketorestpython, tap-marketo, plain scripts) work
//! against actlog by changing only the host: identity tokens, activity types and custom
//! type metadata, adding custom activities, paged reads with paging tokens, and bulk
//! activity extract, with Marketo's envelope and error codes. Two endpoints go beyond
//! Marketo: `POST /actlog/v1/query` (filters, streamed as JSON lines) and
//! `POST /actlog/v1/people` (smart lists). `docs/HTTP.md` lists every endpoint.
//!
//! The main design choice: the HTTP layer reaches storage only through the [`Backend`]
//! trait, whose methods are blocking and run on tokio's blocking pool. That keeps the
//! runtime responsive, makes a disconnecting client unable to cut a batch in half (the
//! blocking call finishes whatever happens to the request), and lets the HTTP layer be
//! tested against an in-memory fake.
//!
//! This crate is not a Marketo clone: there are no leads, lists, campaigns or assets,
//! and a single API client (one id and secret) is served.
//!
//! ```
//! let options = actlog_server::ServerOptions {
//!     client_secret: "s3cret".into(),
//!     ..actlog_server::ServerOptions::default()
//! };
//! assert!(options.validate().is_ok());
//! assert_eq!(options.addr.port(), 8080);
//! assert_eq!(actlog_server::ErrorCode::AccessTokenExpired.as_str(), "602");
//! ```

mod activities;
mod add;
mod api;
mod auth;
pub mod backend;
mod engine_backend;
mod error;
mod exports;
mod http;
mod misc;
mod options;
mod params;
mod render;
mod sync;
mod time;
mod token;
mod types;

pub use api::{ApiError, ErrorCode};
pub use backend::Backend;
pub use engine_backend::EngineBackend;
pub use error::{Error, Result};
pub use options::ServerOptions;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// A bound, not yet running server. Binding first lets a caller learn the port
/// (when listening on port 0) before serving.
pub struct Server {
    listener: tokio::net::TcpListener,
    backend: Arc<dyn Backend>,
    options: ServerOptions,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Validates the options and binds the listening socket.
    ///
    /// # Errors
    /// [`Error::InvalidOptions`] or [`Error::Bind`].
    pub async fn bind(backend: Arc<dyn Backend>, options: ServerOptions) -> Result<Server> {
        options.validate()?;
        let listener = tokio::net::TcpListener::bind(options.addr)
            .await
            .map_err(|source| Error::Bind {
                addr: options.addr,
                source,
            })?;
        Ok(Server {
            listener,
            backend,
            options,
        })
    }

    /// The address actually listened on.
    ///
    /// # Errors
    /// [`Error::Io`] if the socket cannot tell.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` completes; then stops accepting, lets requests in flight
    /// finish, stops export jobs, syncs the backend and returns.
    ///
    /// # Errors
    /// [`Error::ExportsDir`] if the exports directory cannot be prepared, [`Error::Io`]
    /// if serving fails, [`Error::Backend`] if the final sync fails.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let Server {
            listener,
            backend,
            options,
        } = self;
        let (exports, worker) = exports::Exports::start(Arc::clone(&backend), &options)?;
        let state = Arc::new(http::Shared::new(
            Arc::clone(&backend),
            options,
            Arc::clone(&exports),
        ));
        let app = http::router(state);
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        exports.shutdown();
        let _ = worker.await;
        let synced = tokio::task::spawn_blocking(move || backend.sync()).await;
        served?;
        match synced {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Backend {
                code: e.code.as_str(),
                message: e.message,
            }),
            Err(e) => Err(Error::Backend {
                code: ErrorCode::SystemError.as_str(),
                message: e.to_string(),
            }),
        }
    }
}

/// Serves `engine` until `shutdown` completes: what `actlog serve` calls.
///
/// Binds `options.addr`, answers Marketo's activity API and actlog's own endpoints, and
/// on `shutdown` stops accepting, lets requests in flight finish, stops export jobs,
/// syncs the engine and returns. Pass [`shutdown_signal()`] for Ctrl-C / SIGTERM.
///
/// # Errors
/// [`Error::InvalidOptions`], [`Error::Bind`], [`Error::ExportsDir`], [`Error::Io`], or
/// [`Error::Backend`] if the final sync fails.
pub async fn serve(
    engine: actlog::Engine,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    serve_backend(Arc::new(EngineBackend::new(engine)), options, shutdown).await
}

/// Binds and serves `backend` until `shutdown` completes (see [`Server::run`]).
///
/// # Errors
/// As [`Server::bind`] and [`Server::run`].
pub async fn serve_backend(
    backend: Arc<dyn Backend>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    Server::bind(backend, options).await?.run(shutdown).await
}

/// Completes on Ctrl-C or (on Unix) SIGTERM: the usual `shutdown` argument.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
