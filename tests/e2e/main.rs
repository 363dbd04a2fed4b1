//! End-to-end tests across crates, against the real services the test script starts.

mod readiness;
