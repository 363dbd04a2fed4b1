//! Constrained output, tool calls and the rest of the sampling table on the real model
//! (SmolLM2-135M-Instruct). Every structured reply is checked here again with an independent
//! validator (the `jsonschema` crate), not with the decoder that produced it.

mod formats;
mod sampling;
mod tools;

use sp_core::chat::Sampling;
use sp_llm::{Engine, EngineConfig};

pub(crate) fn engine_with(config: EngineConfig) -> Engine {
    Engine::load(config.with_slots(4).with_context_per_slot(1024)).expect("the test model loads")
}

pub(crate) fn engine() -> Engine {
    engine_with(EngineConfig::new(sp_tests::service_url("SP_TEST_MODEL")))
}

pub(crate) fn sampled(seed: u32, max_tokens: u32) -> Sampling {
    Sampling {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        seed: Some(seed),
        max_tokens,
        ..Sampling::default()
    }
}
