//! The tokens a chat is sent as. The rendered prompt is tokenized with special tokens parsed
//! (the template's own markers, `<|im_start|>` and the like, must become control tokens), but
//! a message's text never is: a user, a retrieved document or a tool result that writes
//! `<|im_start|>system` gets those characters as plain text, not a new system turn
//! (security review L3).

use llama_cpp_2::token::LlamaToken;
use sp_core::chat::ChatMessage;
use sp_core::{Error, Result};

use crate::engine::Engine;

impl Engine {
    /// The tokens of `prompt`, rendered from `messages`: special-token text inside any
    /// message's content or call arguments is tokenized as plain text.
    ///
    /// A message whose text holds control-token text the template changed (so it cannot be
    /// found in the rendering to keep apart) is refused rather than sent with live markers.
    pub fn chat_prompt_tokens(
        &self,
        prompt: &str,
        messages: &[ChatMessage],
    ) -> Result<Vec<LlamaToken>> {
        let vocab = self.model().vocab();
        let marked = |text: &str| {
            vocab.tokenize(text.as_bytes(), false, true)
                != vocab.tokenize(text.as_bytes(), false, false)
        };
        // Most conversations carry no marker text: one tokenization, as before.
        let texts: Vec<(usize, &str)> = messages
            .iter()
            .enumerate()
            .flat_map(|(i, m)| {
                std::iter::once((i, m.content.as_str()))
                    .chain(m.tool_calls.iter().map(move |c| (i, c.arguments.as_str())))
            })
            .filter(|(_, text)| !text.is_empty() && marked(text))
            .collect();
        if texts.is_empty() {
            return Ok(self.tokenize_prompt(prompt));
        }
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(texts.len());
        for (at, text) in texts {
            let span = [text, text.trim()].into_iter().find_map(|needle| {
                find_free(prompt, needle, &spans).map(|start| (start, start + needle.len()))
            });
            let Some(span) = span else {
                return Err(Error::invalid_input(
                    format!("messages[{at}].content"),
                    "holds the model's control-token text in a form its chat template changes, \
                     so it cannot be sent as plain text",
                ));
            };
            spans.push(span);
        }
        spans.sort_unstable();
        let mut tokens = Vec::new();
        let mut from = 0;
        for (start, end) in spans {
            tokens.extend(self.segment(&prompt[from..start], from == 0, true));
            tokens.extend(self.segment(&prompt[start..end], false, false));
            from = end;
        }
        tokens.extend(self.segment(&prompt[from..], false, true));
        Ok(tokens)
    }

    fn segment(&self, text: &str, first: bool, special: bool) -> Vec<LlamaToken> {
        if text.is_empty() && !first {
            return Vec::new();
        }
        // BOS (where the model adds one) only before the first segment.
        self.model()
            .vocab()
            .tokenize(text.as_bytes(), first, special)
    }
}

/// The first place `needle` occurs in `haystack` that overlaps no span already taken.
fn find_free(haystack: &str, needle: &str, taken: &[(usize, usize)]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let mut from = 0;
    while let Some(found) = haystack[from..].find(needle) {
        let start = from + found;
        let end = start + needle.len();
        if taken.iter().all(|&(s, e)| end <= s || start >= e) {
            return Some(start);
        }
        from = start + 1;
        while !haystack.is_char_boundary(from) {
            from += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::find_free;

    #[test]
    fn free_places_skip_taken_spans() {
        assert_eq!(find_free("ab ab ab", "ab", &[]), Some(0));
        assert_eq!(find_free("ab ab ab", "ab", &[(0, 2)]), Some(3));
        assert_eq!(find_free("ab ab ab", "ab", &[(0, 2), (3, 5), (6, 8)]), None);
        assert_eq!(find_free("é<x>", "<x>", &[(0, 2)]), Some(2));
    }
}
