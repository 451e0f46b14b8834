//! `inframind-server`: see `--help` and server-example/README.md.

use clap::Parser;

/// Under /optimize load glibc's malloc took ~8% of the server's CPU, mimalloc ~4% (see the
/// note in Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    server_example::serve::main(server_example::config::Cli::parse()).await
}
