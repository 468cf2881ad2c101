// Compiles proto/ with protox (pure Rust), so building weft needs no protoc.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The manifest directory at run time, not compile time: a build script
    // compiled for one checkout may be run for another (worktrees sharing a
    // target directory).
    let manifest = std::env::var("CARGO_MANIFEST_DIR")?;
    let root = std::path::Path::new(&manifest).join("../../proto");
    let file = root.join("weft/agent/v1/agent.proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let descriptors = protox::compile([&file], [&root])?;
    tonic_prost_build::configure()
        // `--output json` prints these messages as they are.
        .message_attribute(".", "#[derive(serde::Serialize)]")
        .compile_fds(descriptors)?;
    Ok(())
}
