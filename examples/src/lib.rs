//! Runnable examples of Story Portal live next to this file (`cargo run -p sp-examples --example NAME`).
//! This library is empty on purpose: the package exists to hold the examples.
