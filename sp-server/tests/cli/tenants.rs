//! `sp tenants` and `sp keys create --tenant`: tenants made from a shell, keys bound to them.

use crate::process::{create_key, sp};

fn run(cmd: &mut std::process::Command) -> (bool, String, String) {
    let output = cmd.output().expect("run sp");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn tenants_are_created_and_listed_and_keys_bound_to_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, out, err) = run(sp(dir.path()).args(["tenants", "create", "acme", "--name", "Acme"]));
    assert!(ok, "{err}");
    assert!(out.contains("acme.<name>"), "{out}");
    let (ok, _, err) = run(sp(dir.path()).args(["tenants", "create", "acme"]));
    assert!(!ok && err.contains("SP-RES-002"), "a taken id: {err}");
    let (ok, out, err) = run(sp(dir.path()).args([
        "tenants",
        "quotas",
        "acme",
        "--rate-limit",
        "600/min",
        "--token-limit",
        "100000/min",
        "--token-limit",
        "2000000/day",
        "--max-sections",
        "1000",
    ]));
    assert!(ok, "{err}");
    assert!(out.contains("100000/min,2000000/day"), "{out}");
    assert!(out.contains("storage 1000 sections/- bytes"), "{out}");
    let (ok, _, err) = run(sp(dir.path()).args([
        "tenants",
        "quotas",
        "acme",
        "--token-limit",
        "1/min",
        "--token-limit",
        "2/min",
    ]));
    assert!(!ok && err.contains("SP-VAL-001"), "two per minute: {err}");

    let (ok, out, err) = run(sp(dir.path()).args(["tenants", "list"]));
    assert!(ok, "{err}");
    let ids: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert_eq!(ids, ["acme", "default"], "{out}");
    let acme_line = out.lines().find(|l| l.starts_with("acme\t")).expect("acme");
    assert!(
        acme_line.ends_with("\t600/min\t100000/min,2000000/day\t1000 sections/- bytes"),
        "quotas listed: {acme_line}"
    );

    let token = create_key(
        &mut sp(dir.path()),
        "acme-reader",
        "documents:read",
        &["--tenant", "acme", "--models", "smollm2"],
    );
    assert!(token.starts_with("sp_"));
    let (ok, out, _) = run(sp(dir.path()).args(["keys", "list"]));
    assert!(ok);
    assert!(
        out.lines().any(|l| l.contains("\tacme\tacme-reader\t")),
        "{out}"
    );
    // Rotation from the shell: a new token on the last line.
    let id = token.split('_').nth(1).expect("id");
    let (ok, out, err) = run(sp(dir.path()).args(["keys", "rotate", id, "--grace-secs", "0"]));
    assert!(ok, "{err}");
    let rotated = out.lines().last().expect("token line");
    assert!(
        rotated.starts_with(&format!("sp_{id}_")) && rotated != token,
        "{out}"
    );
    // `admin` crosses tenants: no key of another tenant holds it; unknown tenants have none.
    for (tenant, scopes, code) in [
        ("acme", "admin", "SP-VAL-001"),
        ("nobody", "events", "SP-RES-001"),
    ] {
        let (ok, _, err) = run(sp(dir.path()).args([
            "keys", "create", "--name", "x", "--scopes", scopes, "--tenant", tenant,
        ]));
        assert!(!ok && err.contains(code), "{tenant}/{scopes}: {err}");
    }
}
