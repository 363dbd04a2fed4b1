//! Running the `sp` binary in tests.

#![allow(dead_code)] // each test binary uses part of it

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const SP: &str = env!("CARGO_BIN_EXE_sp");

/// `sp` with an empty, isolated environment of `SP_*` / URL variables.
pub fn sp(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(SP);
    for (key, _) in std::env::vars() {
        if key.starts_with("SP_")
            || key == "DATABASE_URL"
            || key == "REDIS_URL"
            || key == "RUST_LOG"
        {
            cmd.env_remove(key);
        }
    }
    cmd.env("SP_DATA_DIR", data_dir);
    // The tests' services listen on loopback, which the hub refuses unless told (H2).
    cmd.env("SP_HUB__ALLOWED_NETWORKS", "[\"127.0.0.0/8\"]");
    cmd
}

/// Kills the server when the test ends, pass or fail.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sp serve` on a free port; returns the server, its address and its log stream.
pub fn start(cmd: &mut Command) -> (Server, String, std::process::ChildStderr) {
    start_on(cmd, "127.0.0.1:0")
}

/// A loopback address free now, for a server that must know its own address before it starts
/// (a replica advertising it).
pub fn free_loopback_addr() -> String {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    probe.local_addr().expect("addr").to_string()
}

/// Starts `sp serve` listening on `listen`, like [`start`].
pub fn start_on(cmd: &mut Command, listen: &str) -> (Server, String, std::process::ChildStderr) {
    let mut child = cmd
        .args(["serve", "--listen", listen])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sp");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let url = line
        .trim()
        .strip_prefix("sp listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"));
    let addr = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();
    (server, addr, stderr)
}

/// Reads a server's log as it comes, so a long test never fills the pipe (a full pipe blocks
/// the server's next log line, and with it the request being logged); the log is returned
/// when the server exits.
pub fn drain(log: std::process::ChildStderr) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(log), &mut text);
        text
    })
}

/// Runs `sp keys create --name NAME --scopes SCOPES [MORE…]` with `cmd`'s environment and
/// returns the key's token (the last line it prints).
pub fn create_key(cmd: &mut Command, name: &str, scopes: &str, more: &[&str]) -> String {
    let created = cmd
        .args(["keys", "create", "--name", name, "--scopes", scopes])
        .args(more)
        .output()
        .expect("run sp keys create");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let stdout = String::from_utf8_lossy(&created.stdout);
    let token = stdout
        .lines()
        .last()
        .expect("a token line")
        .trim()
        .to_owned();
    assert!(token.starts_with("sp_"), "{stdout}");
    token
}

/// Runs `cmd` with `args` to its end: exit code, stdout, stderr.
pub fn run(cmd: &mut Command, args: &[&str]) -> (Option<i32>, String, String) {
    let output = cmd.args(args).output().expect("run sp");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// An HTTP client for talking to `sp` from a test (reqwest is built without a default TLS
/// provider, as in the server; ring is installed first).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
