// Compiles our subset of etcd's API (proto/, same packages, names and
// field numbers as etcd's own) with protox: no protoc needed.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    // At run time, not compile time: a build script compiled for one
    // checkout may run for another (worktrees sharing a target directory).
    let manifest = std::env::var("CARGO_MANIFEST_DIR")?;
    let root = std::path::Path::new(&manifest).join("proto");
    let files = [
        root.join("mvccpb/kv.proto"),
        root.join("etcdserverpb/rpc.proto"),
        root.join("v3electionpb/v3election.proto"),
    ];
    println!("cargo:rerun-if-changed={}", root.display());
    let descriptors = protox::compile(&files, [&root])?;
    tonic_prost_build::configure()
        .build_server(false)
        .compile_fds(descriptors)?;
    Ok(())
}
