//! Build script: checks that the UI was built (the binary embeds `ui/dist/`), then lets
//! tauri-build generate the app context (config, capabilities, icons).

use std::path::PathBuf;

fn main() {
    // Read at run time: a build script binary compiled for another checkout of the same
    // sources (a shared target dir) must still look at this one.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let dist = manifest_dir.join("../ui/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    println!(
        "cargo:rerun-if-changed={}",
        dist.join("index.html").display()
    );
    if !dist.join("index.html").is_file() {
        eprintln!();
        eprintln!("error: ui/dist/index.html is missing: the desktop binary embeds the built UI.");
        eprintln!("       Build it first:  scripts/build-ui.sh   (tools: scripts/setup.sh)");
        eprintln!();
        std::process::exit(1);
    }
    tauri_build::build();
}
