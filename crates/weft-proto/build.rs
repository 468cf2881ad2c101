// Compiles proto/ with protox (pure Rust), so building weft needs no protoc.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The manifest directory at run time, not compile time: a build script
    // compiled for one checkout may be run for another (worktrees sharing a
    // target directory).
    let manifest = std::env::var("CARGO_MANIFEST_DIR")?;
    let root = std::path::Path::new(&manifest).join("../../proto");
    let files = [
        root.join("weft/agent/v1/agent.proto"),
        root.join("weft/control/v1/control.proto"),
    ];
    println!("cargo:rerun-if-changed={}", root.display());
    let descriptors = protox::compile(&files, [&root])?;
    // The control plane's tests walk every method of its services from
    // these descriptors (so a new method cannot skip its authorization test).
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("descriptors.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        // `--output json` prints these messages as they are.
        .message_attribute(".", "#[derive(serde::Serialize)]")
        .enum_attribute(
            ".weft.control.v1.PlanStep.step",
            "#[derive(serde::Serialize)]",
        )
        .compile_fds(descriptors.clone())?;
    // The control plane's side of AgentControl once more, with Watch
    // answering pre-encoded `DesiredState`s: one change is encoded once
    // and the same bytes go to every stream it concerns. Every other
    // message is the one generated above; the wire format is unchanged.
    let encoded = out.join("encoded");
    std::fs::create_dir_all(&encoded)?;
    let mut control = descriptors;
    control
        .file
        .retain(|f| f.name() == "weft/control/v1/control.proto");
    tonic_prost_build::configure()
        .build_client(false)
        .codec_path("crate::encoded::LeanCodec")
        .out_dir(&encoded)
        .extern_path(".weft.control.v1", "crate::control")
        .extern_path(
            ".weft.control.v1.DesiredState",
            "crate::encoded::EncodedDesiredState",
        )
        .compile_fds(control)?;
    Ok(())
}
