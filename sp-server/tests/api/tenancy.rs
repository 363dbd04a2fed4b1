//! Tenants (review finding H4): every route of the OpenAPI document, called by one tenant's
//! key on another tenant's resource ids and namespaces, answers 404 and changes nothing; an
//! admin crosses only by naming the other tenant's namespace in full. The walk covers every
//! operation of the spec, so a new route cannot skip it.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN, Api};

/// Every scope but `admin`.
const SCOPES: [&str; 6] = [
    "inference",
    "documents:read",
    "documents:write",
    "contexts",
    "registry",
    "events",
];

/// Operations that hold no tenant's data: the model API and the credential exchanges (and
/// `whoami`, which describes the caller's own credential).
const NO_TENANT_DATA: [&str; 12] = [
    "POST /v1/chat/completions",
    "POST /v1/completions",
    "POST /v1/messages",
    "POST /v1/messages/count_tokens",
    "POST /v1/embeddings",
    "POST /v1/rerank",
    "GET /v1/models",
    "GET /v1/models/{id}",
    "POST /v1/auth/token",
    "POST /v1/auth/refresh",
    "POST /v1/auth/logout",
    "GET /v1/auth/whoami",
];

/// Scoped by its own query string rather than a namespace: a key sees its own usage only,
/// another key or tenant is a 404 (`api_model/usage.rs`).
const OWN_TEST: &str = "GET /v1/usage";

/// What one tenant stored: the ids the walk aims at, and a marker no other tenant may see.
struct Holdings {
    token: String,
    marker: String,
    ids: BTreeMap<&'static str, String>,
}

/// Creates tenant `id` and a key of it with every scope but `admin`; returns the token.
pub(crate) async fn tenant(api: &Api, id: &str) -> String {
    let made = api
        .call(
            Method::POST,
            "/v1/tenants",
            Some(ADMIN),
            Some(json!({"id": id})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let key = json!({"name": id, "tenant": id, "scopes": SCOPES});
    let made = api
        .call(Method::POST, "/v1/keys", Some(ADMIN), Some(key))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    assert_eq!(made.body["key"]["tenant"], id);
    made.body["token"].as_str().expect("token").to_owned()
}

/// Stores one of everything in the namespace `docs` of the token's tenant.
async fn hold(api: &Api, token: &str, marker: &str) -> Holdings {
    let t = Some(token);
    let ok = |reply: &crate::support::Reply, what: &str| {
        assert!(reply.status.is_success(), "{what}: {}", reply.text);
        reply.body.clone()
    };
    let mut ids = BTreeMap::new();
    let doc =
        json!({"namespace": "docs", "title": marker, "content": format!("The {marker} plan.")});
    let doc = ok(
        &api.call(Method::POST, "/v1/documents", t, Some(doc)).await,
        "doc",
    );
    ids.insert(
        "document",
        doc["document"]["id"].as_str().expect("id").to_owned(),
    );
    let ctx = json!({"namespace": "docs", "title": marker});
    let ctx = ok(
        &api.call(Method::POST, "/v1/contexts", t, Some(ctx)).await,
        "context",
    );
    let ctx_id = ctx["id"].as_str().expect("id").to_owned();
    let base = format!("/v1/contexts/{ctx_id}");
    let said = json!({"role": "user", "content": marker});
    let msg = api
        .call(
            Method::POST,
            &format!("{base}/messages?namespace=docs"),
            t,
            Some(said),
        )
        .await;
    let msg = ok(&msg, "message");
    ids.insert("message", msg["id"].as_str().expect("id").to_owned());
    let block = json!({"content": marker});
    let path = format!("{base}/memory/persona?namespace=docs");
    ok(
        &api.call(Method::PUT, &path, t, Some(block)).await,
        "memory",
    );
    let fact = json!({"subject": "user", "attribute": "plan", "value": marker});
    let fact = ok(
        &api.call(
            Method::POST,
            &format!("{base}/facts?namespace=docs"),
            t,
            Some(fact),
        )
        .await,
        "fact",
    );
    ids.insert("fact", fact["fact"]["id"].as_str().expect("id").to_owned());
    ids.insert("context", ctx_id);
    let event = json!({"namespace": "docs", "stream": "orders", "type": "order.placed", "data": {"m": marker}});
    ok(
        &api.call(Method::POST, "/v1/events", t, Some(event)).await,
        "event",
    );
    let group =
        json!({"namespace": "docs", "name": "billing", "stream": "orders", "start": "beginning"});
    ok(
        &api.call(Method::POST, "/v1/events/groups", t, Some(group))
            .await,
        "group",
    );
    let service = json!({"namespace": "docs", "name": "payments", "version": "1.0.0",
        "base_url": "http://127.0.0.1:9", "description": marker,
        "tools": [{"name": "pay", "input_schema": {"type": "object"}}]});
    ok(
        &api.call(Method::POST, "/v1/services", t, Some(service))
            .await,
        "service",
    );
    let flow = json!({"namespace": "docs", "name": "flow", "description": marker,
        "steps": [{"id": "c", "kind": "condition", "value": 1, "equals": 1}]});
    ok(
        &api.call(Method::POST, "/v1/workflows", t, Some(flow)).await,
        "workflow",
    );
    let run = api
        .call(
            Method::POST,
            "/v1/workflows/flow/runs?namespace=docs",
            t,
            Some(json!({})),
        )
        .await;
    let run = ok(&run, "run");
    ids.insert("run", run["id"].as_str().expect("id").to_owned());
    let agent = json!({"namespace": "docs", "name": "helper", "description": marker});
    ok(
        &api.call(Method::POST, "/v1/agents", t, Some(agent)).await,
        "agent",
    );
    let run = api
        .call(
            Method::POST,
            "/v1/agents/helper/runs?namespace=docs",
            t,
            Some(json!({"input": marker})),
        )
        .await;
    let run = ok(&run, "agent run");
    ids.insert("agent_run", run["id"].as_str().expect("id").to_owned());
    Holdings {
        token: token.to_owned(),
        marker: marker.to_owned(),
        ids,
    }
}

/// A response id naming the first message of `victim`'s context (where a response's chain
/// would be kept).
fn response_in(victim: &Holdings) -> String {
    let context: sp_core::Id = victim.ids["context"].parse().expect("context id");
    format!("resp_{}{:016x}{:08x}", context.as_uuid().simple(), 0, 1)
}

/// `path` with its parameters pointing at `victim`'s resources.
fn aimed(path: &str, victim: &Holdings) -> String {
    let id = if path.starts_with("/v1/documents") {
        victim.ids["document"].clone()
    } else if path.starts_with("/v1/contexts") {
        victim.ids["context"].clone()
    } else if path.starts_with("/v1/workflow-runs") {
        victim.ids["run"].clone()
    } else if path.starts_with("/v1/agent-runs") {
        victim.ids["agent_run"].clone()
    } else if path.starts_with("/v1/responses") {
        response_in(victim)
    } else {
        sp_core::Id::new().to_string()
    };
    let name = if path.starts_with("/v1/events/groups") {
        "billing"
    } else if path.starts_with("/v1/services") {
        "payments"
    } else if path.starts_with("/v1/workflows") {
        "flow"
    } else if path.starts_with("/v1/agents") {
        "helper"
    } else if path.starts_with("/v1/tools") {
        "pay"
    } else {
        "persona"
    };
    path.replace("{id}", &id)
        .replace("{fact_id}", &victim.ids["fact"])
        .replace("{name}", name)
        .replace("{version}", "1.0.0")
}

/// A valid body for each operation that takes one, naming `ns`; `None` for those without.
/// An operation missing here fails the walk.
fn body(op: &str, ns: &str, victim: &Holdings) -> Option<Option<Value>> {
    let message = victim.ids["message"].clone();
    let body = match op {
        "POST /v1/documents" => json!({"namespace": ns, "title": "x", "content": "x"}),
        "POST /v1/search" => json!({"namespace": ns, "query": victim.marker}),
        "POST /v1/contexts" => json!({"namespace": ns}),
        "POST /v1/contexts/{id}/messages" => json!({"role": "user", "content": "x"}),
        "POST /v1/contexts/{id}/fork" => json!({"message_id": message}),
        "POST /v1/contexts/{id}/chat" => json!({"content": "hi"}),
        "PUT /v1/contexts/{id}/memory/{name}" => json!({"content": "hijacked"}),
        "POST /v1/contexts/{id}/facts" => {
            json!({"subject": "user", "attribute": "plan", "value": "hijacked"})
        }
        "PATCH /v1/contexts/{id}/facts/{fact_id}" => json!({"value": "hijacked"}),
        "POST /v1/events" => json!({"namespace": ns, "stream": "orders", "type": "x"}),
        "POST /v1/events/batch" => {
            json!({"events": [{"namespace": ns, "stream": "orders", "type": "x"}]})
        }
        "POST /v1/events/groups" => json!({"namespace": ns, "name": "billing", "stream": "orders"}),
        "POST /v1/events/groups/{name}/ack" | "POST /v1/events/groups/{name}/reject" => {
            json!({"offset": 1})
        }
        "POST /v1/dlq/{id}/settle" => json!({"delivered": true}),
        "POST /v1/services" => json!({"namespace": ns, "name": "payments", "version": "9.0.0",
            "base_url": "http://127.0.0.1:9", "tools": [{"name": "pay", "input_schema": {"type": "object"}}]}),
        "POST /v1/services/{name}/versions/{version}/instances" => {
            json!({"url": "http://127.0.0.1:9"})
        }
        "POST /v1/tools/{name}/invoke" => json!({"arguments": {}}),
        "POST /v1/mcp/imports" => {
            json!({"namespace": ns, "name": "payments", "version": "1.0.0", "url": "http://127.0.0.1:9/mcp"})
        }
        "POST /v1/mcp" => json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        "POST /v1/workflows" => json!({"namespace": ns, "name": "flow",
            "steps": [{"id": "c", "kind": "condition", "value": 2, "equals": 2}]}),
        "POST /v1/workflows/{name}/runs" => json!({}),
        "POST /v1/agents" => json!({"namespace": ns, "name": "helper"}),
        "POST /v1/agents/{name}/runs" => json!({"input": "x"}),
        "POST /v1/agent-runs/{id}/approve" | "POST /v1/agent-runs/{id}/reject" => {
            json!({"call_id": "call_1_1"})
        }
        "POST /v1/agent-runs/{id}/fork" => json!({"step": 1}),
        "POST /v1/responses" => {
            json!({"input": "hi", "previous_response_id": response_in(victim)})
        }
        "GET /v1/documents"
        | "GET /v1/documents/{id}"
        | "DELETE /v1/documents/{id}"
        | "GET /v1/contexts"
        | "GET /v1/contexts/{id}"
        | "DELETE /v1/contexts/{id}"
        | "GET /v1/contexts/{id}/messages"
        | "GET /v1/contexts/{id}/memory"
        | "DELETE /v1/contexts/{id}/memory/{name}"
        | "GET /v1/contexts/{id}/facts"
        | "GET /v1/contexts/{id}/facts/search"
        | "GET /v1/contexts/{id}/facts/{fact_id}"
        | "DELETE /v1/contexts/{id}/facts/{fact_id}"
        | "GET /v1/events"
        | "GET /v1/events/live"
        | "GET /v1/events/ws"
        | "GET /v1/events/groups/{name}"
        | "GET /v1/events/groups/{name}/pending"
        | "GET /v1/dlq"
        | "GET /v1/dlq/{id}"
        | "POST /v1/dlq/{id}/redrive"
        | "GET /v1/services"
        | "GET /v1/services/{name}/versions/{version}"
        | "DELETE /v1/services/{name}/versions/{version}"
        | "DELETE /v1/services/{name}/versions/{version}/instances/{id}"
        | "GET /v1/tools"
        | "GET /v1/mcp"
        | "DELETE /v1/mcp"
        | "GET /v1/workflows"
        | "GET /v1/workflows/{name}"
        | "DELETE /v1/workflows/{name}"
        | "GET /v1/workflow-runs"
        | "GET /v1/workflow-runs/{id}"
        | "POST /v1/workflow-runs/{id}/cancel"
        | "GET /v1/agents"
        | "GET /v1/agents/{name}"
        | "DELETE /v1/agents/{name}"
        | "GET /v1/agent-runs"
        | "GET /v1/agent-runs/{id}"
        | "GET /v1/agent-runs/{id}/events"
        | "GET /v1/responses/{id}"
        | "POST /v1/responses/{id}/cancel"
        | "DELETE /v1/responses/{id}"
        | "POST /v1/agent-runs/{id}/cancel"
        | "POST /v1/agent-runs/{id}/replay" => return Some(None),
        _ => return None,
    };
    Some(Some(body))
}

/// The spec's operations that touch a tenant's data, as `METHOD /path`.
fn tenant_operations() -> Vec<String> {
    let spec = serde_json::to_value(sp_server::openapi()).expect("spec");
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let Some(security) = op["security"].as_array() else {
                continue; // public: probes, metrics
            };
            let name = format!("{} {path}", method.to_uppercase());
            let admin_only = security[0]["bearer"] == json!(["admin"]);
            if !admin_only && !NO_TENANT_DATA.contains(&name.as_str()) && name != OWN_TEST {
                ops.push(name);
            }
        }
    }
    ops
}

/// Calls `op` as `caller`, aimed at `victim`'s resources in namespace `ns`.
async fn attack(
    api: &Api,
    op: &str,
    caller: &str,
    ns: &str,
    victim: &Holdings,
) -> crate::support::Reply {
    let (method, path) = op.split_once(' ').expect("op");
    let body = body(op, ns, victim).unwrap_or_else(|| panic!("{op} has no tenancy case"));
    let mut url = format!("{}?namespace={ns}", aimed(path, victim));
    if path.starts_with("/v1/events/live") || path.starts_with("/v1/events/ws") {
        url.push_str("&stream=orders");
    }
    if path.ends_with("/facts/search") {
        url.push_str("&q=plan");
    }
    let method: Method = method.parse().expect("method");
    api.call(method, &url, Some(caller), body).await
}

#[tokio::test]
async fn a_tenant_reaches_nothing_of_another_and_an_admin_crosses_explicitly() {
    let api = Api::start(None, |_| {}).await;
    let acme = tenant(&api, "acme").await;
    let globex = tenant(&api, "globex").await;
    let acme = hold(&api, &acme, "marker-acme-41f").await;
    // The default tenant's data, stored by the bootstrap admin under bare names.
    let home = hold(&api, ADMIN, "marker-home-9c2").await;

    let ops = tenant_operations();
    assert!(ops.len() >= 40, "the walk covers the spec: {ops:?}");
    // Another tenant's namespace named in full, with its ids: 404, like an absent one.
    for op in &ops {
        let reply = attack(&api, op, &globex, "acme.docs", &acme).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::NOT_FOUND, "SP-RES-001"),
            "{op} on acme.docs as globex: {}",
            reply.text
        );
        assert!(!reply.text.contains(&acme.marker), "{op}: {}", reply.text);
    }
    // A bare name is the caller's own namespace: the default tenant's `docs` is out of reach,
    // and its ids are not found there.
    for op in &ops {
        if op.starts_with("GET /v1/events/live") || op.starts_with("GET /v1/events/ws") {
            // In its own namespace a live feed follows until closed; the walk above covers
            // the refusal.
            continue;
        }
        let reply = attack(&api, op, &globex, "docs", &home).await;
        assert!(
            !reply.text.contains(&home.marker),
            "{op} leaked the default tenant's data: {}",
            reply.text
        );
        if op.starts_with("GET ") && op.contains("{id}") {
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{op}: {}", reply.text);
        }
    }

    // Nothing of either victim changed.
    for (victim, ns) in [(&acme, "docs"), (&home, "docs")] {
        let t = Some(victim.token.as_str());
        let doc = format!("/v1/documents/{}?namespace={ns}", victim.ids["document"]);
        let doc = api.call(Method::GET, &doc, t, None).await;
        assert_eq!(doc.status, StatusCode::OK, "{}", doc.text);
        assert_eq!(doc.body["title"], victim.marker.as_str());
        let ctx = format!("/v1/contexts/{}", victim.ids["context"]);
        let said = api
            .call(
                Method::GET,
                &format!("{ctx}/messages?namespace={ns}"),
                t,
                None,
            )
            .await;
        assert_eq!(
            said.body["messages"].as_array().map(Vec::len),
            Some(1),
            "{}",
            said.text
        );
        let memory = api
            .call(
                Method::GET,
                &format!("{ctx}/memory?namespace={ns}"),
                t,
                None,
            )
            .await;
        assert!(memory.text.contains(&victim.marker), "{}", memory.text);
        assert!(!memory.text.contains("hijacked"), "{}", memory.text);
        let facts = api
            .call(
                Method::GET,
                &format!("{ctx}/facts?namespace={ns}&history=true"),
                t,
                None,
            )
            .await;
        assert_eq!(
            facts.body["facts"].as_array().map(Vec::len),
            Some(1),
            "{}",
            facts.text
        );
        assert!(facts.text.contains(&victim.marker), "{}", facts.text);
        let events = api
            .call(
                Method::GET,
                &format!("/v1/events?namespace={ns}&stream=orders"),
                t,
                None,
            )
            .await;
        assert_eq!(
            events.body["items"].as_array().map(Vec::len),
            Some(1),
            "{}",
            events.text
        );
        let group = api
            .call(
                Method::GET,
                &format!("/v1/events/groups/billing?namespace={ns}"),
                t,
                None,
            )
            .await;
        assert_eq!(group.status, StatusCode::OK, "{}", group.text);
        let services = api
            .call(
                Method::GET,
                &format!("/v1/services?namespace={ns}&name=payments"),
                t,
                None,
            )
            .await;
        let versions: Vec<&str> = services.body["services"]
            .as_array()
            .expect("services")
            .iter()
            .filter_map(|s| s["version"].as_str())
            .collect();
        assert_eq!(
            versions,
            ["1.0.0"],
            "no version slipped in: {}",
            services.text
        );
        let flow = api
            .call(
                Method::GET,
                &format!("/v1/workflows/flow?namespace={ns}"),
                t,
                None,
            )
            .await;
        assert_eq!(flow.body["version"], 1, "{}", flow.text);
        let run = format!("/v1/workflow-runs/{}?namespace={ns}", victim.ids["run"]);
        let run = api.call(Method::GET, &run, t, None).await;
        assert_ne!(run.body["status"], "cancelled", "{}", run.text);
        let agent = format!("/v1/agents/helper?namespace={ns}");
        let agent = api.call(Method::GET, &agent, t, None).await;
        assert_eq!(agent.body["version"], 1, "{}", agent.text);
        let run = format!("/v1/agent-runs/{}?namespace={ns}", victim.ids["agent_run"]);
        let run = api.call(Method::GET, &run, t, None).await;
        assert_eq!(run.body["input"], victim.marker.as_str(), "{}", run.text);
        assert_ne!(run.body["status"], "cancelled", "{}", run.text);
    }

    // Names as stored: the full name outside the default tenant.
    let own = format!("/v1/documents/{}", acme.ids["document"]);
    let own = api.call(Method::GET, &own, Some(&acme.token), None).await;
    assert_eq!(
        own.status,
        StatusCode::NOT_FOUND,
        "no namespace: acme.default"
    );
    let full = format!("/v1/documents/{}?namespace=acme.docs", acme.ids["document"]);
    let full = api.call(Method::GET, &full, Some(&acme.token), None).await;
    assert_eq!(full.body["namespace"], "acme.docs", "{}", full.text);
    // An admin crosses by naming the namespace in full; a bare name is its own tenant's.
    let crossed = api
        .call(
            Method::GET,
            "/v1/documents?namespace=acme.docs",
            Some(ADMIN),
            None,
        )
        .await;
    assert!(crossed.text.contains(&acme.marker), "{}", crossed.text);
    let bare = api
        .call(
            Method::GET,
            "/v1/documents?namespace=docs",
            Some(ADMIN),
            None,
        )
        .await;
    assert!(bare.text.contains(&home.marker) && !bare.text.contains(&acme.marker));
    // A namespace of one's own tenant that holds nothing is an empty page.
    let fresh = api
        .call(Method::GET, "/v1/documents", Some(&globex), None)
        .await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
    assert_eq!(fresh.body["items"], json!([]));
}
