//! The committed protobuf descriptors (`proto/descriptors.binpb`, which the server's decoder
//! embeds) against the vendored `.proto` files compiled now with protox.

use std::path::{Path, PathBuf};

/// The vendored files the decoder serves; their imports come along.
const PROTO_FILES: [&str; 11] = [
    "k8s.io/api/core/v1/generated.proto",
    "k8s.io/api/apps/v1/generated.proto",
    "k8s.io/api/autoscaling/v1/generated.proto",
    "k8s.io/api/coordination/v1/generated.proto",
    "k8s.io/api/discovery/v1/generated.proto",
    "k8s.io/api/authentication/v1/generated.proto",
    "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto",
    "k8s.io/apimachinery/pkg/runtime/generated.proto",
    "k8s.io/apimachinery/pkg/runtime/schema/generated.proto",
    "k8s.io/apimachinery/pkg/util/intstr/generated.proto",
    "k8s.io/apimachinery/pkg/api/resource/generated.proto",
];

fn proto_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("proto")
}

/// A `FileDescriptorSet` with imports and without source info (comments would only grow it).
fn compile() -> Vec<u8> {
    protox::Compiler::new([proto_dir()])
        .expect("include path")
        .include_imports(true)
        .include_source_info(false)
        .open_files(PROTO_FILES)
        .expect("the vendored .proto files compile")
        .encode_file_descriptor_set()
}

#[test]
fn the_committed_descriptors_are_the_vendored_proto_files_compiled() {
    let committed = std::fs::read(proto_dir().join("descriptors.binpb")).expect("descriptors");
    assert!(
        compile() == committed,
        "proto/descriptors.binpb is stale: cargo test --test e2e protobuf::regenerate -- --ignored"
    );
}

/// Writes `proto/descriptors.binpb` from the vendored `.proto` files.
#[test]
#[ignore = "writes proto/descriptors.binpb; run after scripts/k8s-proto"]
fn regenerate_descriptors() {
    std::fs::write(proto_dir().join("descriptors.binpb"), compile()).expect("write");
}
