//! Any bytes as an OpenAI chat or completions request body: decoding and every check the
//! routes run before the model (unknown fields, messages, sampling, response shape) must
//! answer `Ok` or a coded error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sp_core::chat::Sampling;
use sp_fuzz::wire::{ChatRequest, CompletionRequest, Endpoint, unsupported};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<ChatRequest>(data) {
        let _ = unsupported(&request.other);
        for (i, message) in request.messages.iter().enumerate() {
            let _ = message.to_chat(i);
        }
        let _ = request
            .sampling
            .sampling(Sampling::UNTIL_WINDOW, Endpoint::Chat);
        let _ = request.sampling.choices();
        let _ = request.shape.options();
    }
    if let Ok(request) = serde_json::from_slice::<CompletionRequest>(data) {
        let _ = unsupported(&request.other);
        let _ = request
            .sampling
            .sampling(Sampling::UNTIL_WINDOW, Endpoint::Completions);
        let _ = request.sampling.choices();
    }
});
