//! The `kubetrail` binary: the allocator, then `cli::run`.

// The server allocates and frees many small JSON nodes per write; glibc's malloc spent about a
// quarter of the server's CPU on them under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    kubetrail::cli::run().await
}
