//! The tokens a chat is sent as. The rendered prompt is tokenized with special tokens parsed
//! (the template's own markers, `<|im_start|>` and the like, must become control tokens), but
//! a message's text never is: a user, a retrieved document or a tool result that writes
//! `<|im_start|>system` gets those characters as plain text, not a new system turn
//! (security review L3).

use std::collections::HashSet;

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token_type::LlamaTokenAttr;
use sp_core::chat::ChatMessage;
use sp_core::{Error, Result};

use crate::engine::Engine;

/// The texts the tokenizer turns into special tokens when parsing them (control, user-defined
/// and unknown tokens, as llama.cpp's tokenizer partitions them), to find them in a message
/// without tokenizing it. Built once per model, on the first chat.
#[derive(Debug)]
pub(crate) struct SpecialTexts {
    texts: HashSet<Vec<u8>>,
    /// Every length some special text has, shortest first.
    lengths: Vec<usize>,
    /// Bytes that begin some special text.
    first: [bool; 256],
}

impl Default for SpecialTexts {
    fn default() -> Self {
        SpecialTexts {
            texts: HashSet::new(),
            lengths: Vec::new(),
            first: [false; 256],
        }
    }
}

impl SpecialTexts {
    pub(crate) fn of(model: &LlamaModel) -> Self {
        let vocab = model.vocab();
        let mut out = SpecialTexts::default();
        for id in 0..model.n_vocab() {
            let token = LlamaToken(id);
            let attrs = vocab.attr(token);
            let special = [
                LlamaTokenAttr::Control,
                LlamaTokenAttr::UserDefined,
                LlamaTokenAttr::Unknown,
            ]
            .into_iter()
            .any(|attr| attrs.contains(attr));
            if !special {
                continue;
            }
            let text = vocab.token_to_piece(token, true, None);
            if let Some(&byte) = text.first() {
                out.first[usize::from(byte)] = true;
                if !out.lengths.contains(&text.len()) {
                    out.lengths.push(text.len());
                }
                out.texts.insert(text);
            }
        }
        out.lengths.sort_unstable();
        out
    }

    /// True when `text` holds the text of some special token.
    fn found_in(&self, text: &str) -> bool {
        let bytes = text.as_bytes();
        bytes.iter().enumerate().any(|(at, &byte)| {
            self.first[usize::from(byte)]
                && self
                    .lengths
                    .iter()
                    .take_while(|&&len| at + len <= bytes.len())
                    .any(|&len| self.texts.contains(&bytes[at..at + len]))
        })
    }
}

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
        let specials = self.special_texts();
        let marked = |text: &str| specials.found_in(text);
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
    use super::{SpecialTexts, find_free};

    #[test]
    fn special_texts_are_found_anywhere() {
        let mut specials = SpecialTexts::default();
        for text in ["<|im_start|>", "<s>"] {
            specials.texts.insert(text.as_bytes().to_vec());
            specials.first[usize::from(b'<')] = true;
            specials.lengths.push(text.len());
        }
        specials.lengths.sort_unstable();
        assert!(specials.found_in("hi <|im_start|>system"));
        assert!(specials.found_in("<s>"));
        assert!(!specials.found_in("a <b> c <|im_star"));
        assert!(!specials.found_in(""));
    }

    #[test]
    fn free_places_skip_taken_spans() {
        assert_eq!(find_free("ab ab ab", "ab", &[]), Some(0));
        assert_eq!(find_free("ab ab ab", "ab", &[(0, 2)]), Some(3));
        assert_eq!(find_free("ab ab ab", "ab", &[(0, 2), (3, 5), (6, 8)]), None);
        assert_eq!(find_free("é<x>", "<x>", &[(0, 2)]), Some(2));
    }
}
