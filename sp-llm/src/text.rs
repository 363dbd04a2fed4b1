//! Turning generated token bytes into text: never split a UTF-8 character, never emit part of
//! a stop sequence.

/// Accumulates token pieces and releases text that is safe to show.
///
/// Bytes of an unfinished UTF-8 character wait for the next piece; text that could be the
/// start of a stop sequence is held back until it is known not to be one. Streaming and
/// non-streaming results are identical because both read from this one decoder.
#[derive(Debug, Default)]
pub(crate) struct TextDecoder {
    pending_bytes: Vec<u8>,
    held: String,
    stop: Vec<String>,
    stopped: bool,
}

/// What pushing a piece produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// Text safe to emit now (may be empty).
    pub text: String,
    /// True when a stop sequence matched: generation must end; `text` excludes it.
    pub stopped: bool,
}

impl TextDecoder {
    pub(crate) fn new(stop: Vec<String>) -> Self {
        TextDecoder {
            stop,
            ..TextDecoder::default()
        }
    }

    /// Adds the bytes of one token.
    pub(crate) fn push(&mut self, piece: &[u8]) -> Decoded {
        if self.stopped {
            return Decoded {
                text: String::new(),
                stopped: true,
            };
        }
        self.pending_bytes.extend_from_slice(piece);
        let complete = take_valid_utf8(&mut self.pending_bytes);
        self.held.push_str(&complete);

        if let Some(at) = self.first_stop_match() {
            self.held.truncate(at);
            self.stopped = true;
            return Decoded {
                text: std::mem::take(&mut self.held),
                stopped: true,
            };
        }
        let keep = self.longest_stop_prefix_suffix();
        let release = self.held.len() - keep;
        let text = self.held[..release].to_owned();
        self.held.drain(..release);
        Decoded {
            text,
            stopped: false,
        }
    }

    /// Everything still held, at the end of generation. Dangling bytes of an unfinished
    /// character become U+FFFD rather than vanishing.
    pub(crate) fn finish(&mut self) -> String {
        if self.stopped {
            return String::new();
        }
        let mut text = std::mem::take(&mut self.held);
        if !self.pending_bytes.is_empty() {
            text.push_str(&String::from_utf8_lossy(&self.pending_bytes));
            self.pending_bytes.clear();
        }
        text
    }

    fn first_stop_match(&self) -> Option<usize> {
        self.stop
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min()
    }

    /// Bytes at the end of `held` that begin some stop sequence (on a char boundary).
    fn longest_stop_prefix_suffix(&self) -> usize {
        let mut best = 0;
        for stop in &self.stop {
            let max = stop.len().saturating_sub(1).min(self.held.len());
            for len in (best + 1..=max).rev() {
                let start = self.held.len() - len;
                if self.held.is_char_boundary(start) && stop.starts_with(&self.held[start..]) {
                    best = len;
                    break;
                }
            }
        }
        best
    }
}

/// Removes and returns the longest valid UTF-8 prefix of `bytes`; invalid sequences (not merely
/// unfinished ones) become U+FFFD so one bad byte cannot stall the stream.
fn take_valid_utf8(bytes: &mut Vec<u8>) -> String {
    let mut out = String::new();
    loop {
        match std::str::from_utf8(bytes) {
            Ok(all) => {
                out.push_str(all);
                bytes.clear();
                return out;
            }
            Err(err) => {
                let valid = err.valid_up_to();
                out.push_str(&String::from_utf8_lossy(&bytes[..valid]));
                match err.error_len() {
                    // An unfinished character at the end: wait for more bytes.
                    None => {
                        bytes.drain(..valid);
                        return out;
                    }
                    Some(bad) => {
                        out.push('\u{FFFD}');
                        bytes.drain(..valid + bad);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stop: &[&str], pieces: &[&[u8]]) -> (Vec<String>, bool, String) {
        let mut decoder = TextDecoder::new(stop.iter().map(|s| s.to_string()).collect());
        let mut out = Vec::new();
        let mut stopped = false;
        for piece in pieces {
            let decoded = decoder.push(piece);
            out.push(decoded.text);
            if decoded.stopped {
                stopped = true;
                break;
            }
        }
        (out, stopped, decoder.finish())
    }

    #[test]
    fn multibyte_characters_are_never_split() {
        let euro = "€".as_bytes();
        let (out, stopped, rest) = run(&[], &[b"a", &euro[..1], &euro[1..2], &euro[2..], b"b"]);
        assert_eq!(out, vec!["a", "", "", "€", "b"]);
        assert!(!stopped);
        assert_eq!(rest, "");
    }

    #[test]
    fn stop_sequence_across_pieces_is_cut_and_never_emitted() {
        let (out, stopped, _) = run(&["END"], &[b"hello E", b"N", b"D more"]);
        assert!(stopped);
        assert_eq!(out.concat(), "hello ");
        assert_eq!(out[0], "hello ", "the possible start `E` is held back");
    }

    #[test]
    fn held_text_is_released_when_it_is_not_a_stop() {
        let (out, stopped, rest) = run(&["END"], &[b"E", b"x"]);
        assert!(!stopped);
        assert_eq!(out, vec!["", "Ex"]);
        assert_eq!(rest, "");
        let (out, _, rest) = run(&["END"], &[b"abc E"]);
        assert_eq!((out.concat(), rest), ("abc ".to_owned(), "E".to_owned()));
    }

    #[test]
    fn earliest_of_several_stops_wins() {
        let (out, stopped, _) = run(&["zz", "b"], &[b"a b zz"]);
        assert!(stopped);
        assert_eq!(out.concat(), "a ");
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let (out, _, rest) = run(&[], &[b"a\xffb", b"\xe2\x82"]);
        assert_eq!(out.concat(), "a\u{FFFD}b");
        assert_eq!(
            rest, "\u{FFFD}",
            "a dangling partial character is not lost silently"
        );
    }
}
