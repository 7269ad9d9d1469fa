//! Names the commit the binary is built from, for `mto --version`: git's
//! when the source is a checkout, `MTO_COMMIT` when the builder gives one
//! (an image build from a tarball), else `unknown`.

use std::process::Command;

fn main() {
    let commit = std::env::var("MTO_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            let out = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=MTO_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=MTO_COMMIT");
    // A new commit moves HEAD or the branch it names.
    for path in ["../.git/HEAD", "../.git/refs/heads"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
