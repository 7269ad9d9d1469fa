//! Names the commit the binary is built from, for `mto --version`: git's
//! when the source is a checkout, `MTO_COMMIT` when the builder gives one
//! (an image build from a tarball), else `unknown`.

use std::process::Command;

/// What `git args` prints, trimmed, if git ran and succeeded.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    let commit = std::env::var("MTO_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=MTO_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=MTO_COMMIT");
    // A new commit moves HEAD or the branch it names. Asked of git, not
    // assumed at ../.git: in a worktree of the checkout (whose .git is a
    // file) that path is not there, and a build sharing the target
    // directory named the other tree's commit.
    for file in ["HEAD", "refs/heads", "packed-refs"] {
        if let Some(path) = git(&["rev-parse", "--git-path", file])
            && std::path::Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
