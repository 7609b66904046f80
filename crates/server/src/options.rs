//! Server configuration.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Everything `serve` needs besides the engine. Every field has a default; a TOML file
/// with any subset of the fields (same names) can be read with [`ServerOptions::from_toml_file`].
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerOptions {
    /// Address to listen on. Default `127.0.0.1:8080`.
    pub addr: SocketAddr,
    /// The one API client's id. Default `actlog`.
    pub client_id: String,
    /// The client's secret; must not be empty. Default empty (so `serve` refuses to start
    /// until one is set).
    pub client_secret: String,
    /// Where bulk export files are written. Default `exports` (relative to the working
    /// directory; the CLI sets `<data dir>/exports`).
    pub exports_dir: PathBuf,
    /// Lifetime of an access token. Default 3600 (Marketo's).
    pub token_ttl_secs: u64,
    /// Largest request body. Default 1 MiB (Marketo's); larger gets HTTP 413.
    pub body_bytes_max: usize,
    /// Longest request URI (path and query). Default 8192; longer gets HTTP 414.
    pub uri_bytes_max: usize,
    /// Requests served at once; more get 615. Default 256.
    pub requests_in_flight_max: usize,
    /// Time a request may take before it is answered with 604. Default 90 000.
    pub request_timeout_ms: u64,
    /// Export jobs running at once. Default 2 (Marketo's).
    pub export_jobs_running_max: usize,
    /// Export jobs queued or running. Default 10 (Marketo's); more get 1029.
    pub export_jobs_queued_max: usize,
    /// Export jobs kept (any state) before creating more gets 1029. Default 1000.
    pub export_jobs_kept_max: usize,
    /// Bytes of export files written per UTC day before enqueueing gets 1029. Default 500 MB.
    pub export_bytes_per_day_max: u64,
    /// How long jobs and their files are kept. Default 7 days.
    pub export_retention_secs: u64,
    /// Longest `createdAt` range of an export. Default 31 days.
    pub export_range_days_max: u32,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            client_id: "actlog".to_owned(),
            client_secret: String::new(),
            exports_dir: PathBuf::from("exports"),
            token_ttl_secs: 3600,
            body_bytes_max: 1 << 20,
            uri_bytes_max: 8192,
            requests_in_flight_max: 256,
            request_timeout_ms: 90_000,
            export_jobs_running_max: 2,
            export_jobs_queued_max: 10,
            export_jobs_kept_max: 1000,
            export_bytes_per_day_max: 500_000_000,
            export_retention_secs: 7 * 86_400,
            export_range_days_max: 31,
        }
    }
}

impl ServerOptions {
    /// Reads options from a TOML file; absent fields keep their defaults, unknown ones are errors.
    ///
    /// # Errors
    /// [`Error::ConfigRead`] if the file cannot be read, [`Error::ConfigParse`] if it is not
    /// valid for these options.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<ServerOptions> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text).map_err(|message| Error::ConfigParse {
            path: path.to_owned(),
            message,
        })
    }

    fn from_toml_str(text: &str) -> std::result::Result<ServerOptions, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks the options for values that cannot work.
    ///
    /// # Errors
    /// [`Error::InvalidOptions`] naming the first bad field.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::InvalidOptions(what.to_owned()));
        if self.client_id.is_empty() {
            return bad("client_id must not be empty");
        }
        if self.client_secret.is_empty() {
            return bad("client_secret must not be empty");
        }
        if self.token_ttl_secs == 0 {
            return bad("token_ttl_secs must be at least 1");
        }
        if self.body_bytes_max == 0 || self.uri_bytes_max == 0 || self.requests_in_flight_max == 0 {
            return bad(
                "body_bytes_max, uri_bytes_max and requests_in_flight_max must be at least 1",
            );
        }
        if self.request_timeout_ms == 0 {
            return bad("request_timeout_ms must be at least 1");
        }
        if self.export_jobs_running_max == 0
            || self.export_jobs_queued_max == 0
            || self.export_jobs_kept_max == 0
        {
            return bad("export job limits must be at least 1");
        }
        if self.export_range_days_max == 0 {
            return bad("export_range_days_max must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_some_fields() {
        let o = ServerOptions::from_toml_str(
            "addr = \"0.0.0.0:9000\"\nclient_secret = \"s3cret\"\nexports_dir = \"/tmp/x\"\n",
        )
        .unwrap();
        assert_eq!(o.addr, SocketAddr::from(([0, 0, 0, 0], 9000)));
        assert_eq!(o.client_secret, "s3cret");
        assert_eq!(o.exports_dir, PathBuf::from("/tmp/x"));
        assert_eq!(o.token_ttl_secs, 3600);
        assert!(o.validate().is_ok());
        assert!(ServerOptions::from_toml_str("nope = 1")
            .unwrap_err()
            .contains("nope"));
    }

    #[test]
    fn empty_secret_is_refused() {
        let err = ServerOptions::default().validate().unwrap_err();
        assert!(err.to_string().contains("client_secret"), "{err}");
    }
}
