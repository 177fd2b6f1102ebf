//! Git fixture helpers for tests.
