//! How the embedded store encodes vectors, and how a user's query becomes a full-text query.

/// Little-endian f32 bytes, the embedded store's vector encoding.
pub(crate) fn vector_to_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn vector_from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The words of a user's query, lower-cased, as a full-text OR query; `None` without words.
/// Quoting every word keeps FTS5 / tsquery syntax in the input from being interpreted.
pub(crate) fn query_words(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

pub(crate) fn fts_query(query: &str) -> Option<String> {
    let words = query_words(query);
    (!words.is_empty()).then(|| {
        words
            .iter()
            .map(|w| format!("\"{w}\""))
            .collect::<Vec<_>>()
            .join(" OR ")
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn fts_queries_quote_words_and_drop_syntax() {
        assert_eq!(
            super::fts_query("Cats AND \"dogs\"*").as_deref(),
            Some("\"cats\" OR \"and\" OR \"dogs\"")
        );
        assert_eq!(super::fts_query(" -- "), None);
        let v = vec![1.5f32, -2.0];
        assert_eq!(super::vector_from_bytes(&super::vector_to_bytes(&v)), v);
    }
}
