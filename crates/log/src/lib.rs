//! Segment-based append-only log of opaque records: the storage layer of actlog.
