//! The sp-server code the fuzz targets exercise, included by path: the OpenAI, Anthropic and
//! Responses request decoders (`routes/openai/{wire,messages,shape}.rs`,
//! `routes/anthropic/{wire,blocks}.rs`, `routes/responses/{input,tools}.rs`, at the root here so
//! that their `super::` paths still meet) and the JWT verifier (`jwt.rs`). They depend on serde, sp-core
//! and jsonwebtoken only, so the fuzz build skips the rest of the server (and llama.cpp).

#![allow(dead_code, missing_docs, unused_imports)]

#[path = "../../sp-server/src/jwt.rs"]
pub mod jwt;
#[path = "../../sp-server/src/routes/openai/messages.rs"]
pub mod messages;
#[path = "../../sp-server/src/routes/openai/shape.rs"]
pub mod shape;
#[path = "../../sp-server/src/routes/openai/wire.rs"]
pub mod wire;
#[path = "../../sp-server/src/routes/anthropic/blocks.rs"]
pub mod blocks;
#[path = "../../sp-server/src/routes/anthropic/wire.rs"]
pub mod anthropic_wire;
#[path = "../../sp-server/src/routes/responses/input.rs"]
pub mod responses_input;
#[path = "../../sp-server/src/routes/responses/tools.rs"]
pub mod tools;
