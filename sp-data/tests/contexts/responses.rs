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
