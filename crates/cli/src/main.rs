//! The `actlog` command: a thin shell over the engine's public API.

fn main() {}
