//! How long a model stays loaded after its last request — Ollama's `keep_alive`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// How long a model stays loaded once idle: a duration (`"5m"`, `"90s"`, `"1h30m"`, or a
/// number of seconds), `0` to unload as soon as its last request ends, or any negative value
/// (`-1`) to keep it until it is unloaded by hand.
///
/// ```
/// use sp_core::catalogue::KeepAlive;
/// use std::time::Duration;
///
/// assert_eq!(KeepAlive::parse("5m")?, KeepAlive::For(Duration::from_secs(300)));
/// assert_eq!(KeepAlive::parse("0")?, KeepAlive::For(Duration::ZERO));
/// assert_eq!(KeepAlive::parse("-1")?, KeepAlive::Forever);
/// assert!(KeepAlive::parse("soon").is_err());
/// # Ok::<(), sp_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAlive {
    /// Unload once idle this long (zero: at the end of the last request).
    For(Duration),
    /// Never unload on its own.
    Forever,
}

impl Default for KeepAlive {
    /// Five minutes, as Ollama.
    fn default() -> Self {
        KeepAlive::For(Duration::from_secs(300))
    }
}

impl KeepAlive {
    /// Parses `"5m"`, `"1h30m"`, `"45s"`, `"250ms"`, a bare number of seconds, `"0"` or a
    /// negative number.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let refuse = |why: &str| {
            Error::invalid_input(
                "keep_alive",
                format!("`{text}` {why}; use a duration such as \"5m\", \"30s\", 0 or -1"),
            )
        };
        if let Some(magnitude) = text.strip_prefix('-') {
            // Any negative value or duration keeps the model, as in Ollama.
            return match magnitude.parse::<f64>() {
                Ok(n) if n > 0.0 => Ok(KeepAlive::Forever),
                _ => match KeepAlive::parse(magnitude) {
                    Ok(KeepAlive::For(d)) if !d.is_zero() => Ok(KeepAlive::Forever),
                    _ => Err(refuse("is not a negative number or duration")),
                },
            };
        }
        if let Ok(seconds) = text.parse::<u64>() {
            return Ok(KeepAlive::For(Duration::from_secs(seconds)));
        }
        let mut total = Duration::ZERO;
        let mut rest = text;
        if rest.is_empty() {
            return Err(refuse("is empty"));
        }
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(|| refuse("lacks a unit"))?;
            let value: u64 = rest[..digits]
                .parse()
                .map_err(|_| refuse("is not a duration"))?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = match &rest[..unit_len] {
                "ms" => Duration::from_millis(value),
                "s" => Duration::from_secs(value),
                "m" => Duration::from_secs(value.saturating_mul(60)),
                "h" => Duration::from_secs(value.saturating_mul(3600)),
                _ => return Err(refuse("has an unknown unit (ms, s, m, h)")),
            };
            total = total.saturating_add(unit);
            rest = &rest[unit_len..];
        }
        Ok(KeepAlive::For(total))
    }

    /// True for `0`: unload when the last request ends.
    pub fn is_zero(self) -> bool {
        self == KeepAlive::For(Duration::ZERO)
    }
}

impl std::fmt::Display for KeepAlive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeepAlive::Forever => f.write_str("-1"),
            KeepAlive::For(duration) if duration.subsec_millis() != 0 => {
                write!(f, "{}ms", duration.as_millis())
            }
            KeepAlive::For(duration) => write!(f, "{}s", duration.as_secs()),
        }
    }
}

impl Serialize for KeepAlive {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeepAlive {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Seconds(i64),
            Fraction(f64),
            Text(String),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Seconds(n) if n < 0 => Ok(KeepAlive::Forever),
            Wire::Seconds(n) => Ok(KeepAlive::For(Duration::from_secs(n.unsigned_abs()))),
            Wire::Fraction(n) if n < 0.0 => Ok(KeepAlive::Forever),
            // A number past what a duration holds is refused, not a panic (found by fuzzing).
            Wire::Fraction(n) => Duration::try_from_secs_f64(n)
                .map(KeepAlive::For)
                .map_err(|_| {
                    serde::de::Error::custom(
                        "keep_alive must be a finite number of seconds within a u64",
                    )
                }),
            Wire::Text(text) => KeepAlive::parse(&text).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_numbers_and_negatives_parse_as_ollama_reads_them() {
        let secs = |n| KeepAlive::For(Duration::from_secs(n));
        assert_eq!(KeepAlive::parse("1h30m").unwrap(), secs(5400));
        assert_eq!(KeepAlive::parse("45s").unwrap(), secs(45));
        assert_eq!(
            KeepAlive::parse("250ms").unwrap(),
            KeepAlive::For(Duration::from_millis(250))
        );
        assert_eq!(KeepAlive::parse("-5m").unwrap(), KeepAlive::Forever);
        assert_eq!(KeepAlive::parse("5").unwrap(), secs(5));
        for bad in ["", "m5", "5d", "-", "-0", "1.5m"] {
            let err = KeepAlive::parse(bad).unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::InvalidInput, "{bad:?}");
        }
        let wire: Vec<KeepAlive> = serde_json::from_str(r#"[0, -1, 30, "2m", 1.5]"#).unwrap();
        assert_eq!(
            wire,
            [
                secs(0),
                KeepAlive::Forever,
                secs(30),
                secs(120),
                KeepAlive::For(Duration::from_millis(1500))
            ]
        );
        assert!(wire[0].is_zero());
        assert_eq!(
            serde_json::to_string(&wire).unwrap(),
            r#"["0s","-1","30s","120s","1500ms"]"#
        );
        assert!(serde_json::from_str::<KeepAlive>(r#""forever""#).is_err());
        // Beyond what a duration holds (the fuzzer's find): an error, not a panic.
        assert!(serde_json::from_str::<KeepAlive>("2222222222222222222222222222").is_err());
        assert!(serde_json::from_str::<KeepAlive>("1e300").is_err());
    }
}
