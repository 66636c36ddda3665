//! Names the commit the binary is built from, for `pointshare_build_info` and
//! `--version`: `POINTSHARE_GIT_SHA` when the build sets it (the container
//! image, whose context has no .git), else what git says here, else "unknown".

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=POINTSHARE_GIT_SHA");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs/heads");
    let sha = std::env::var("POINTSHARE_GIT_SHA").ok().filter(|sha| !sha.is_empty()).or_else(|| {
        let output = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok()?;
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    });
    println!("cargo:rustc-env=POINTSHARE_GIT_SHA={}", sha.unwrap_or_else(|| "unknown".to_owned()));
}
