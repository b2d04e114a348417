//! Compiles `proto/corral.proto` with a vendored `protoc`, so no system
//! protobuf compiler is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    // A listing of thousands of jobs decodes into a Vec<Job>: with the spec
    // boxed, a Job is a third of the size to grow, move and fault in.
    config.boxed(".corral.v1.Job.spec");
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_with_config(config, &["proto/corral.proto"], &["proto"])?;
    println!("cargo:rerun-if-changed=proto/corral.proto");
    Ok(())
}
