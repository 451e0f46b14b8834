//! `inframind-server`: see `--help` and server-example/README.md.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    server_example::serve::main(server_example::config::Cli::parse()).await
}
