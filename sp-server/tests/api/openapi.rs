//! The OpenAPI document against the router it describes: served without a credential, Swagger UI
//! beside it, and every operation in it answered by a route protected exactly as declared.

use axum::http::{Method, StatusCode};
use serde_json::Value;
use sp_core::auth::Scope;

use crate::support::Api;

/// A concrete request path for a templated one.
fn concrete(path: &str) -> String {
    path.replace("{id}", &sp_core::Id::new().to_string())
        .replace("{name}", "notes")
        .replace("{version}", "1.0.0")
}

/// A scope the operation does not ask for (and that is not `admin`, which implies all).
fn other_scope(required: &[String]) -> &'static str {
    Scope::ALL
        .into_iter()
        .map(Scope::as_str)
        .find(|s| *s != "admin" && !required.iter().any(|r| r == s))
        .expect("some scope is left")
}

#[tokio::test]
async fn the_spec_is_served_and_describes_the_routes_as_they_are_protected() {
    let api = Api::start(None, |_| {}).await;
    let served = api.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(served.status, StatusCode::OK, "{}", served.text);
    let built = serde_json::to_value(sp_server::openapi()).expect("spec serialises");
    assert_eq!(served.body, built, "/openapi.json is sp_server::openapi()");
    assert_eq!(served.body["openapi"], "3.1.0");

    let docs = api.call(Method::GET, "/docs/", None, None).await;
    assert_eq!(docs.status, StatusCode::OK, "{}", docs.text);
    assert!(docs.text.contains("swagger-ui"), "{}", docs.text);

    let paths = served.body["paths"].as_object().expect("paths");
    let mut protected = 0;
    let mut scoped_checks = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            let method: Method = method.to_uppercase().parse().expect("method");
            let url = concrete(path);
            let anonymous = api.call(method.clone(), &url, None, None).await;
            let what = format!("{method} {path}");
            assert!(
                op["operationId"].is_string() && op["tags"].is_array(),
                "{what} has an operationId and a tag"
            );
            let Some(requirements) = op["security"].as_array() else {
                assert!(
                    ![401, 404, 405].contains(&anonymous.status.as_u16()),
                    "{what} is public and routed: {} {}",
                    anonymous.status,
                    anonymous.text
                );
                continue;
            };
            protected += 1;
            assert_eq!(
                (anonymous.status, anonymous.code()),
                (StatusCode::UNAUTHORIZED, "SP-AUTH-001"),
                "{what} needs a credential"
            );
            let scopes: Vec<String> =
                serde_json::from_value(requirements[0]["bearer"].clone()).expect("bearer scopes");
            for scope in &scopes {
                assert!(
                    scope.parse::<Scope>().is_ok(),
                    "{what}: `{scope}` is a scope"
                );
            }
            assert_eq!(
                requirements[1]["api_key"],
                Value::from(scopes.clone()),
                "{what}: both schemes ask for the same scopes"
            );
            // Requests without a body reach the handler's scope check; with the wrong scope
            // they are refused as the spec says.
            if !scopes.is_empty() && (method == Method::GET || method == Method::DELETE) {
                let key = api.key(&[other_scope(&scopes)], None).await;
                let refused = api.call(method.clone(), &url, Some(&key), None).await;
                assert_eq!(
                    (refused.status, refused.code()),
                    (StatusCode::FORBIDDEN, "SP-AUTH-002"),
                    "{what} with a key lacking {scopes:?}: {}",
                    refused.text
                );
                scoped_checks += 1;
            }
        }
    }
    assert!(protected >= 25, "every /v1 route is described: {protected}");
    assert!(scoped_checks >= 12, "{scoped_checks}");
}
