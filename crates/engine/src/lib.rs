//! An embeddable, event-sourced, append-only activity log engine.
