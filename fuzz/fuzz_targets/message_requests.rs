//! Any bytes as an Anthropic Messages or an OpenAI Responses request body: decoding and every
//! check the routes run before the model (fields, content blocks, input items, tools, tool
//! choice, formats, sampling) must answer `Ok` or a coded error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sp_fuzz::anthropic_wire::MessagesRequest;
use sp_fuzz::responses_input::ResponseRequest;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<MessagesRequest>(data) {
        let _ = request.chat_messages();
        let _ = request.options();
        let _ = request.sampling();
    }
    if let Ok(request) = serde_json::from_slice::<ResponseRequest>(data) {
        let _ = request.check();
        let _ = request.messages();
        let _ = request.options();
        let _ = request.sampling();
    }
});
