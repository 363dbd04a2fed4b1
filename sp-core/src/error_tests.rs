//! Every error variant keeps its code and status; causes survive `source()`.

use super::*;

#[test]
fn every_variant_has_its_code() {
    let cases = [
        (Error::invalid_input("k", "r"), "SP-VAL-001"),
        (Error::InvalidCursor("x".into()), "SP-VAL-002"),
        (
            Error::Config {
                key: "a".into(),
                reason: "b".into(),
            },
            "SP-CFG-001",
        ),
        (
            Error::NotFound {
                kind: crate::Resource::Document,
                id: "1".into(),
            },
            "SP-RES-001",
        ),
        (Error::Conflict("c".into()), "SP-RES-002"),
        (Error::unavailable("redis", "down"), "SP-GEN-002"),
        (Error::internal("boom"), "SP-GEN-001"),
        (
            Error::ContextLengthExceeded {
                prompt_tokens: 1,
                max_tokens: 2,
                context_size: 2,
            },
            "SP-LLM-001",
        ),
        (Error::Overloaded { waiting: 1 }, "SP-LLM-002"),
        (
            Error::ModelLoad {
                path: "m".into(),
                reason: "r".into(),
            },
            "SP-LLM-003",
        ),
        (Error::Inference("x".into()), "SP-LLM-004"),
        (
            Error::ConstraintUnsupported {
                field: "response_format".into(),
                reason: "r".into(),
            },
            "SP-LLM-005",
        ),
        (
            Error::ConstraintViolated { reason: "r".into() },
            "SP-LLM-006",
        ),
        (
            Error::ModelNotFound {
                name: "m".into(),
                available: vec!["a".into()],
            },
            "SP-LLM-007",
        ),
        (
            Error::ModelMemory {
                model: "m".into(),
                needed_mib: 2,
                budget_mib: 1,
                resident_mib: 0,
                busy_in_the_way: false,
                retry_after_secs: 30,
            },
            "SP-LLM-008",
        ),
        (
            Error::ModelPull {
                from: "s".into(),
                reason: "r".into(),
            },
            "SP-LLM-009",
        ),
        (
            Error::ModelChecksum {
                from: "s".into(),
                expected: "e".into(),
                actual: "a".into(),
            },
            "SP-LLM-010",
        ),
        (Error::DocumentTooLarge { bytes: 2, limit: 1 }, "SP-KB-001"),
        (
            Error::DimensionMismatch {
                expected: 2,
                got: 1,
            },
            "SP-KB-002",
        ),
        (Error::InvalidVector("nan".into()), "SP-KB-003"),
        (Error::MessageTooLarge { bytes: 2, limit: 1 }, "SP-CTX-001"),
        (
            Error::ToolCallUnknown {
                tool_call_id: "c".into(),
            },
            "SP-CTX-002",
        ),
        (
            Error::MemoryBlockTooLarge {
                name: "n".into(),
                chars: 2,
                limit: 1,
            },
            "SP-CTX-003",
        ),
        (Error::Unauthorized("no key".into()), "SP-AUTH-001"),
        (
            Error::Forbidden {
                scope: "admin".into(),
            },
            "SP-AUTH-002",
        ),
        (
            Error::RateLimited {
                retry_after_secs: 1,
            },
            "SP-AUTH-003",
        ),
        (
            Error::ToolArgumentsInvalid {
                tool: "t".into(),
                violations: vec!["/q: required".into()],
            },
            "SP-HUB-001",
        ),
        (Error::ToolUnknown { tool: "t".into() }, "SP-HUB-002"),
        (Error::EventTooLarge { size: 2, limit: 1 }, "SP-EVT-001"),
        (Error::StreamUnknown { stream: "s".into() }, "SP-EVT-002"),
        (Error::GroupUnknown { group: "g".into() }, "SP-EVT-004"),
        (Error::WorkflowCycle { steps: vec![] }, "SP-WF-001"),
        (
            Error::WorkflowWiring {
                step: "s".into(),
                reason: "r".into(),
            },
            "SP-WF-002",
        ),
        (
            Error::WorkflowToolUnknown {
                step: "s".into(),
                tool: "t".into(),
            },
            "SP-WF-003",
        ),
        (
            Error::WorkflowUnreadable {
                run: "r".into(),
                reason: "r".into(),
            },
            "SP-WF-004",
        ),
        (
            Error::WorkflowInputsTooLarge {
                step: "s".into(),
                limit: 1,
            },
            "SP-WF-005",
        ),
        (
            Error::WorkflowInterrupted {
                step: "s".into(),
                times: 3,
            },
            "SP-WF-006",
        ),
        (
            Error::OffsetOutOfRange {
                stream: "s".into(),
                offset: 9,
                head: 3,
            },
            "SP-EVT-003",
        ),
        (
            Error::ServiceUnhealthy {
                service: "s@1.0.0".into(),
            },
            "SP-HUB-003",
        ),
        (
            Error::CircuitOpen {
                service: "s@1.0.0".into(),
                retry_after_secs: 5,
            },
            "SP-HUB-004",
        ),
        (
            Error::UpstreamTimeout {
                service: "s@1.0.0".into(),
                timeout_ms: 10,
            },
            "SP-HUB-005",
        ),
        (
            Error::UpstreamError {
                service: "s@1.0.0".into(),
                status: Some(500),
                reason: "boom".into(),
            },
            "SP-HUB-006",
        ),
    ];
    for (err, code) in cases {
        assert_eq!(err.code().as_str(), code, "{err}");
    }
}
