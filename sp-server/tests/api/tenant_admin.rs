//! Administering tenants: `/v1/tenants`, keys bound to a tenant (never `admin` outside the
//! default one), the audit log by tenant, and keys limited to some tools.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{ADMIN, Api};
use crate::tenancy::tenant;

#[tokio::test]
async fn tenants_keys_and_audit_are_administered_per_tenant() {
    let api = Api::start(None, |_| {}).await;
    // A fresh server lists its default namespace as an empty page, as a new user tries.
    let fresh = api
        .call(Method::GET, "/v1/documents", Some(ADMIN), None)
        .await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
    assert_eq!(fresh.body["items"], json!([]));

    let acme = tenant(&api, "acme").await;
    let again = api
        .call(
            Method::POST,
            "/v1/tenants",
            Some(ADMIN),
            Some(json!({"id": "acme"})),
        )
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "SP-RES-002")
    );
    let bad = api
        .call(
            Method::POST,
            "/v1/tenants",
            Some(ADMIN),
            Some(json!({"id": "Acme.Corp"})),
        )
        .await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "SP-REQ-004")
    );
    let listed = api
        .call(Method::GET, "/v1/tenants", Some(ADMIN), None)
        .await;
    let ids: Vec<&str> = listed.body["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, ["acme", "default"]);
    let one = api
        .call(Method::GET, "/v1/tenants/acme", Some(ADMIN), None)
        .await;
    assert_eq!(one.body["name"], "acme");
    let none = api
        .call(Method::GET, "/v1/tenants/nobody", Some(ADMIN), None)
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    // Tenants are the operator's: a tenant's key cannot list or create them.
    let refused = api
        .call(Method::GET, "/v1/tenants", Some(&acme), None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // `admin` crosses tenants, so only the default tenant's keys may hold it.
    let escalate = json!({"name": "x", "tenant": "acme", "scopes": ["admin"]});
    let escalate = api
        .call(Method::POST, "/v1/keys", Some(ADMIN), Some(escalate))
        .await;
    assert_eq!(
        (escalate.status, escalate.code()),
        (StatusCode::BAD_REQUEST, "SP-VAL-001"),
        "{}",
        escalate.text
    );
    let orphan = json!({"name": "x", "tenant": "nobody", "scopes": ["events"]});
    let orphan = api
        .call(Method::POST, "/v1/keys", Some(ADMIN), Some(orphan))
        .await;
    assert_eq!(orphan.status, StatusCode::NOT_FOUND, "{}", orphan.text);

    // A tenant's requests are audited under it, and the log filters by tenant.
    let doc = json!({"title": "t", "content": "audited"});
    let made = api
        .call(Method::POST, "/v1/documents", Some(&acme), Some(doc))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    assert_eq!(made.body["document"]["namespace"], "acme.default");
    let log = api
        .call(Method::GET, "/v1/audit?tenant=acme", Some(ADMIN), None)
        .await;
    let entries = log.body["items"].as_array().expect("items");
    assert!(!entries.is_empty(), "{}", log.text);
    assert!(
        entries.iter().all(|e| e["tenant"] == "acme"),
        "{}",
        log.text
    );
    let keys = api
        .call(Method::GET, "/v1/keys?tenant=acme", Some(ADMIN), None)
        .await;
    let tenants: Vec<&str> = keys.body["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["tenant"].as_str())
        .collect();
    assert_eq!(tenants, ["acme"]);
}

#[tokio::test]
async fn a_key_limited_to_some_tools_sees_and_calls_only_those() {
    let api = Api::start(None, |_| {}).await;
    let service = json!({"name": "payments", "version": "1.0.0", "base_url": "http://127.0.0.1:9",
        "tools": [{"name": "pay", "input_schema": {"type": "object"}},
                  {"name": "refund", "input_schema": {"type": "object"}}]});
    let made = api
        .call(Method::POST, "/v1/services", Some(ADMIN), Some(service))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let key = json!({"name": "pay-only", "scopes": ["registry", "events"], "tools": ["pay"]});
    let key = api
        .call(Method::POST, "/v1/keys", Some(ADMIN), Some(key))
        .await;
    assert_eq!(key.body["key"]["tools"], json!(["pay"]), "{}", key.text);
    let token = key.body["token"].as_str().expect("token");

    let tools = api.call(Method::GET, "/v1/tools", Some(token), None).await;
    let names: Vec<&str> = tools.body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["tool"]["name"].as_str())
        .collect();
    assert_eq!(names, ["pay"], "{}", tools.text);
    let refund = api
        .call(
            Method::POST,
            "/v1/tools/refund/invoke",
            Some(token),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (refund.status, refund.code()),
        (StatusCode::FORBIDDEN, "SP-AUTH-002"),
        "{}",
        refund.text
    );
    // Nor through a workflow it defines.
    let flow = json!({"name": "sneaky", "steps": [{"id": "r", "kind": "tool", "tool": "refund"}]});
    let flow = api
        .call(Method::POST, "/v1/workflows", Some(token), Some(flow))
        .await;
    assert_eq!(flow.status, StatusCode::FORBIDDEN, "{}", flow.text);
    // Nor over MCP: the list holds only `pay`.
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let request = axum::http::Request::post("/v1/mcp")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(axum::body::Body::from(list.to_string()))
        .expect("request");
    let listed = api.send(request).await;
    assert!(
        listed.text.contains("\"pay\"") && !listed.text.contains("refund"),
        "{}",
        listed.text
    );
}
