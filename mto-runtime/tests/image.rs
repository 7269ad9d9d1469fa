//! `scripts/image` builds an OCI image of the operator without a daemon:
//! the same inputs give the same digest, it runs as a non-root user with
//! no shell, and the binary in it runs with only what the image holds.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository")
        .to_path_buf()
}

fn build(out: &Path) -> String {
    let done = Command::new(repo().join("scripts/image"))
        .args(["--binary", env!("CARGO_BIN_EXE_mto"), "--out"])
        .arg(out)
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .output()
        .expect("scripts/image runs");
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    std::fs::read_to_string(out.join("index.json")).expect("index.json")
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("JSON")
}

#[test]
fn the_image_is_reproducible_non_root_shell_less_and_runs_the_binary() {
    let dir = std::env::temp_dir().join(format!("mto-image-{}", std::process::id()));
    let (one, two) = (dir.join("one"), dir.join("two"));
    let index = build(&one);
    assert_eq!(build(&two), index, "the same inputs, the same digests");

    let index: Value = serde_json::from_str(&index).expect("index");
    let entry = &index["manifests"][0];
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        env!("CARGO_PKG_VERSION")
    );
    let manifest = json(&blob(&one, entry["digest"].as_str().expect("digest")));
    let config = json(&blob(
        &one,
        manifest["config"]["digest"].as_str().expect("config"),
    ));
    assert_eq!(config["config"]["User"], "65532:65532");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/usr/local/bin/mto"])
    );
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["run"]));
    assert_eq!(config["os"], "linux");

    let root = dir.join("root");
    std::fs::create_dir_all(&root).expect("dir");
    let layer = blob(
        &one,
        manifest["layers"][0]["digest"].as_str().expect("layer"),
    );
    let unpacked = Command::new("tar")
        .arg("-xzf")
        .arg(&layer)
        .arg("-C")
        .arg(&root)
        .status()
        .expect("tar runs");
    assert!(unpacked.success());
    for shell in ["bin/sh", "bin/bash", "usr/bin/sh"] {
        assert!(!root.join(shell).exists(), "{shell} in the image");
    }
    // Run with the image's own loader and libraries, none of the host's.
    let loader = root.join("lib64/ld-linux-x86-64.so.2");
    let binary = root.join("usr/local/bin/mto");
    let ran = if loader.exists() {
        Command::new(&loader)
            .arg("--library-path")
            .arg(root.join("lib/x86_64-linux-gnu"))
            .arg(&binary)
            .arg("--version")
            .output()
    } else {
        Command::new(&binary).arg("--version").output()
    }
    .expect("the binary runs");
    let version = String::from_utf8_lossy(&ran.stdout);
    assert!(
        ran.status.success() && version.contains(env!("CARGO_PKG_VERSION")),
        "{version}{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(version.contains("commit"), "{version}");
    std::fs::remove_dir_all(&dir).ok();
}
