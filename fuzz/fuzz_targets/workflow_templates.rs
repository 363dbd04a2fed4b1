//! Any JSON as a step's inputs (its `{{…}}` references) and as the run's input and an earlier
//! step's output: rendering answers a value or a coded error within its size limit, never a
//! panic, and never more than the limit.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const LIMIT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    // Three JSON documents separated by NUL bytes: the template, the input, an output.
    let mut parts = data.split(|b| *b == 0);
    let mut next = || {
        parts
            .next()
            .and_then(|p| serde_json::from_slice::<Value>(p).ok())
            .unwrap_or(Value::Null)
    };
    let (template, input, output) = (next(), next(), next());
    let outputs = HashMap::from([("a".to_owned(), output)]);
    if let Ok(rendered) = sp_core::workflows::render("s", &template, &input, &outputs, LIMIT) {
        let size = serde_json::to_vec(&rendered).map_or(0, |v| v.len());
        let given = serde_json::to_vec(&template).map_or(0, |v| v.len());
        assert!(size <= LIMIT.max(given) * 2, "{size} bytes rendered");
    }
    let _ = sp_core::workflows::references(&template);
});
