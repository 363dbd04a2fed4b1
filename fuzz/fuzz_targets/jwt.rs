//! Any text as a bearer JWT: verification answers claims or `None`, never a panic — and a
//! token it accepts was signed with the configured secret (the fuzzer cannot forge one).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sp_core::config::JwtConfig;
use sp_fuzz::jwt::Jwt;

fn jwt() -> &'static Jwt {
    static JWT: OnceLock<Jwt> = OnceLock::new();
    JWT.get_or_init(|| {
        let config = JwtConfig {
            hs256_secret: Some("fuzzing-secret-that-is-long-enough-0123456789".into()),
            ..JwtConfig::default()
        };
        Jwt::from_config(&config)
            .ok()
            .flatten()
            .unwrap_or_else(|| std::process::abort())
    })
}

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    assert!(
        jwt().verify(&token).is_none(),
        "a forged token was accepted: {token}"
    );
});
