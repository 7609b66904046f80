//! `actlog bench`: ingest and query speed on the shared generated workload.

use std::process::ExitCode;

use anyhow::Result;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Record generated activities into a fresh directory and report the rate.
    Ingest,
    /// Query a generated data set and report latencies.
    Query,
}

pub fn run(_command: BenchCommand) -> Result<ExitCode> {
    anyhow::bail!("actlog bench is not available in this build")
}
