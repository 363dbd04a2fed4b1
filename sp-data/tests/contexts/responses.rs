//! Response chains (`sp_core::responses`) on a context store: stored, continued, branched
//! (a fork), not stored, abandoned — the same on every backend.

use serde_json::json;
use sp_core::chat::{ChatMessage, Completion, FinishReason, Usage};
use sp_core::responses::Responses;
use sp_core::{Error, ErrorCode};

use super::{Fixture, ns};

fn reply(text: &str) -> Completion {
    Completion::new(text, FinishReason::Stop, Usage::default())
}

pub async fn response_chains_continue_branch_and_abandon(f: &Fixture) {
    let responses = Responses::new(f.contexts.clone());
    let ns = ns("chains");
    let first = responses
        .begin(&ns, None, true, vec![ChatMessage::user("I am Ada.")])
        .await
        .unwrap();
    let first = first
        .finish(&reply("Hello Ada."), json!({"object": "response", "n": 1}))
        .await
        .unwrap();
    let first_id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(responses.get(&ns, &first_id).await.unwrap(), first);

    // Continued: the prompt is the chain, then the input; the chain grows in place.
    let second = responses
        .begin(
            &ns,
            Some(&first_id),
            true,
            vec![ChatMessage::user("Who am I?")],
        )
        .await
        .unwrap();
    let prompt = second.prompt(Some("Be brief."));
    let texts: Vec<&str> = prompt.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["Be brief.", "I am Ada.", "Hello Ada.", "Who am I?"]);
    let second = second
        .finish(&reply("Ada."), json!({"object": "response", "n": 2}))
        .await
        .unwrap();
    let second_id = second["id"].as_str().unwrap().to_owned();
    assert_eq!(second_id[..37], first_id[..37], "the same context");

    // A second branch from the first response forks: the second turn is not in it.
    let branch = responses
        .begin(
            &ns,
            Some(&first_id),
            true,
            vec![ChatMessage::user("And now?")],
        )
        .await
        .unwrap();
    let texts: Vec<String> = branch.prompt(None).into_iter().map(|m| m.content).collect();
    assert_eq!(texts, ["I am Ada.", "Hello Ada.", "And now?"]);
    let branch = branch
        .finish(&reply("Now."), json!({"object": "response"}))
        .await
        .unwrap();
    assert_ne!(
        branch["id"].as_str().unwrap()[..37],
        first_id[..37],
        "a fork"
    );
    // Both branches stay readable.
    assert_eq!(responses.get(&ns, &second_id).await.unwrap()["n"], 2);

    // Not stored: an id, nothing to read back.
    let loose = responses
        .begin(&ns, Some(&second_id), false, vec![ChatMessage::user("x")])
        .await
        .unwrap();
    assert_eq!(loose.prompt(None).len(), 5);
    let loose = loose.finish(&reply("y"), json!({})).await.unwrap();
    let err = responses
        .get(&ns, loose["id"].as_str().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);

    // Abandoned: the context made for it goes, and its id names nothing.
    let abandoned = responses
        .begin(&ns, None, true, vec![ChatMessage::user("z")])
        .await
        .unwrap();
    let id = abandoned.id().to_owned();
    responses.check_place(&ns, &id).await.unwrap();
    abandoned.abandon().await;
    assert!(matches!(
        responses.check_place(&ns, &id).await,
        Err(Error::NotFound { .. })
    ));

    // Another namespace sees none of it.
    let other = sp_core::knowledge::Namespace::new("elsewhere").unwrap();
    assert_eq!(
        responses.get(&other, &first_id).await.unwrap_err().code(),
        ErrorCode::NotFound
    );
    let err = responses
        .begin(&other, Some(&first_id), true, vec![ChatMessage::user("x")])
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), ErrorCode::NotFound);
}

pub async fn responses_are_deleted_newest_first(f: &Fixture) {
    let responses = Responses::new(f.contexts.clone());
    let ns = ns("deleting");
    let ask = |previous: Option<String>, text: &'static str| {
        let responses = responses.clone();
        let ns = ns.clone();
        async move {
            let pending = responses
                .begin(
                    &ns,
                    previous.as_deref(),
                    true,
                    vec![ChatMessage::user(text)],
                )
                .await
                .unwrap();
            let done = Completion {
                tool_calls: vec![sp_core::chat::ToolCall {
                    id: format!("call_{text}"),
                    name: "look".into(),
                    arguments: "{}".into(),
                }],
                ..reply("ok")
            };
            let body = pending
                .finish(&done, json!({"object": "response"}))
                .await
                .unwrap();
            body["id"].as_str().unwrap().to_owned()
        }
    };
    let first = ask(None, "one").await;
    let second = ask(Some(first.clone()), "two").await;
    let place = sp_core::responses::ResponsePlace::parse(&first).unwrap();

    // The first has a successor in its chain: refused, nothing changed.
    let refused = responses.delete(&ns, &first).await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Conflict);
    assert_eq!(
        f.contexts
            .get(&ns, place.context)
            .await
            .unwrap()
            .message_count,
        4
    );
    // Another namespace cannot delete it.
    let other = sp_core::knowledge::Namespace::new("elsewhere").unwrap();
    assert_eq!(
        responses.delete(&other, &second).await.unwrap_err().code(),
        ErrorCode::NotFound
    );

    // The newest goes: its turn leaves the chain, the first stays readable and continuable.
    responses.delete(&ns, &second).await.unwrap();
    assert_eq!(
        responses.get(&ns, &second).await.unwrap_err().code(),
        ErrorCode::NotFound
    );
    assert_eq!(
        f.contexts
            .get(&ns, place.context)
            .await
            .unwrap()
            .message_count,
        2
    );
    let messages = f
        .contexts
        .messages(&ns, place.context, 0, 10)
        .await
        .unwrap();
    assert_eq!(messages.len(), 2);
    // The deleted turn's tool call is gone with it: a result for it is refused.
    let late = sp_core::context::NewMessage {
        tool_call_id: Some("call_two".into()),
        ..sp_core::context::NewMessage::new(sp_core::chat::Role::Tool, "late")
    };
    assert!(f.contexts.append(&ns, place.context, late).await.is_err());
    let third = ask(Some(first.clone()), "three").await;
    assert_eq!(
        third[..37],
        first[..37],
        "continued in place, no fork needed"
    );

    // A chain's only response takes its context with it.
    responses.delete(&ns, &third).await.unwrap();
    responses.delete(&ns, &first).await.unwrap();
    assert!(matches!(
        f.contexts.get(&ns, place.context).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        responses.delete(&ns, &first).await.unwrap_err().code(),
        ErrorCode::NotFound
    );
}
