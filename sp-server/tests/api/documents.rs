//! Documents and search.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::Api;

#[tokio::test]
async fn documents_and_search() {
    let api = Api::start(None, |_| {}).await;
    let token = api.key(&["documents:read", "documents:write"], None).await;
    let t = Some(token.as_str());
    let doc = json!({
        "title": "Tides", "content": "# Harbour\nThe harbour tide tables list high water times.",
        "namespace": "fleet", "external_id": "tides", "metadata": {"kind": "guide"}
    });
    let created = api
        .call(Method::POST, "/v1/documents", t, Some(doc.clone()))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["outcome"], "created");
    let id = created.body["document"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let again = api.call(Method::POST, "/v1/documents", t, Some(doc)).await;
    assert_eq!(
        (again.status, again.body["outcome"].as_str()),
        (StatusCode::OK, Some("unchanged"))
    );
    let other = json!({"title": "Bread", "content": "Knead the dough for ten minutes.", "namespace": "fleet"});
    assert_eq!(
        api.call(Method::POST, "/v1/documents", t, Some(other))
            .await
            .status,
        StatusCode::CREATED
    );

    for mode in ["vector", "keyword", "hybrid"] {
        let query =
            json!({"query": "harbour tide tables", "k": 1, "mode": mode, "namespace": "fleet"});
        let reply = api.call(Method::POST, "/v1/search", t, Some(query)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let hit = &reply.body["results"][0];
        assert_eq!(hit["title"], "Tides", "{mode}: {}", reply.text);
        assert_eq!(hit["document_id"], id.as_str());
        assert!(
            hit["text"]
                .as_str()
                .unwrap_or_default()
                .contains("tide tables")
        );
        assert!(hit["score"].as_f64().is_some());
    }
    let filtered = json!({"query": "dough", "namespace": "fleet", "filter": {"kind": "guide"}, "mode": "keyword"});
    let reply = api
        .call(Method::POST, "/v1/search", t, Some(filtered))
        .await;
    assert_eq!(
        reply.body["results"].as_array().map(Vec::len),
        Some(0),
        "{}",
        reply.text
    );

    let got = api
        .call(
            Method::GET,
            &format!("/v1/documents/{id}?namespace=fleet"),
            t,
            None,
        )
        .await;
    assert_eq!(got.body["title"], "Tides");
    let listed = api
        .call(
            Method::GET,
            "/v1/documents?namespace=fleet&limit=1",
            t,
            None,
        )
        .await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
    assert!(listed.body["next_cursor"].is_string());
    // Another namespace does not see it.
    let hidden = api
        .call(Method::GET, &format!("/v1/documents/{id}"), t, None)
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let deleted = api
        .call(
            Method::DELETE,
            &format!("/v1/documents/{id}?namespace=fleet"),
            t,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = api
        .call(
            Method::GET,
            &format!("/v1/documents/{id}?namespace=fleet"),
            t,
            None,
        )
        .await;
    assert_eq!(
        (gone.status, gone.code()),
        (StatusCode::NOT_FOUND, "SP-RES-001")
    );
}
