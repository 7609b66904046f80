//! Posting-block secondary indexes (by person, by activity type) for actlog, stored in sled.
