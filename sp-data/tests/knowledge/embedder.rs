//! A knowledge store remembers which embedding model made its vectors, on every backend:
//! another model — even one of the same width — is refused (`SP-KB-005`), so vectors of two
//! models are never mixed in one index.

use sp_core::{Error, ErrorCode};

use super::fixture::Fixture;

pub async fn another_embedder_is_refused(f: &Fixture) {
    f.store
        .adopt_embedder("all-MiniLM-L6-v2")
        .await
        .expect("first embedder adopted");
    f.store
        .adopt_embedder("all-MiniLM-L6-v2")
        .await
        .expect("the same one again");
    let err = f
        .store
        .adopt_embedder("hash-v1-64")
        .await
        .expect_err("another model");
    assert_eq!(err.code(), ErrorCode::EmbedderMismatch, "{err}");
    match err {
        Error::EmbedderMismatch { stored, got } => {
            assert_eq!(
                (stored.as_str(), got.as_str()),
                ("all-MiniLM-L6-v2", "hash-v1-64")
            );
        }
        other => panic!("{other}"),
    }
}
