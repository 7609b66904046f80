//! Shared workload generation and peer implementations for the actlog benches.
