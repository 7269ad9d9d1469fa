//! Helpers for the tests against the real control plane from deploy/testenv.

// Each test file uses its own part of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use kube::Client;

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs kubectl; returns (success, stdout, stderr).
pub(crate) fn kubectl(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("kubectl")
        .args(args)
        .current_dir(repo())
        .output()
        .expect("kubectl runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) fn kubectl_ok(args: &[&str]) -> String {
    let (ok, out, err) = kubectl(args);
    assert!(ok, "kubectl {}: {err}", args.join(" "));
    out
}

pub(crate) fn kubectl_stdin(args: &[&str], input: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("kubectl waits");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Creates the namespaces unless they exist (tests share one cluster).
pub(crate) fn ensure_namespaces(names: &[&str]) {
    for ns in names {
        let (ok, _, err) = kubectl(&["create", "namespace", ns]);
        assert!(ok || err.contains("AlreadyExists"), "{err}");
    }
}

pub(crate) fn install_crds() {
    kubectl_ok(&[
        "apply",
        "--server-side",
        "--field-manager=mto",
        // A test that pointed a CRD elsewhere and failed before restoring it.
        "--force-conflicts",
        "-f",
        "deploy/crds/",
    ]);
    kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "-f",
        "deploy/crds/",
    ]);
}

pub(crate) async fn client() -> Client {
    Client::try_default()
        .await
        .expect("KUBECONFIG points at the test control plane (run under deploy/testenv/run)")
}

/// Removes every sleep schedule left by earlier tests (the examples put
/// tenant beta to sleep at 20:00 Berlin time), so that a schedule firing
/// mid-test cannot break another test's count of writes. Their finalizers
/// are dropped first: no operator may be running to release them.
/// Template instances go the same way (the examples deploy one into every
/// tenant namespace), so that one cannot write during another test.
pub(crate) fn remove_supervisors_and_template_instances() {
    for kind in [
        "clusterresourcesupervisors",
        "resourcesupervisors",
        "clustertemplateinstances",
        "templategroupinstances",
        "templateinstances",
    ] {
        let listed = kubectl_ok(&[
            "get",
            kind,
            "--all-namespaces",
            "-o",
            "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{\"\\n\"}{end}",
        ]);
        for entry in listed.lines().filter(|l| !l.is_empty()) {
            let (namespace, name) = entry.split_once('/').unwrap_or(("", entry));
            let mut target = vec![kind, name];
            if !namespace.is_empty() {
                target.extend(["-n", namespace]);
            }
            let mut patch = vec!["patch"];
            patch.extend(&target);
            patch.extend(["--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
            kubectl(&patch);
            let mut delete = vec!["delete", "--ignore-not-found", "--wait=false"];
            delete.extend(&target);
            kubectl_ok(&delete);
        }
    }
}
