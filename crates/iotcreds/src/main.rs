//! `iotcreds`: the server (`iotcreds serve`), its administration (a client of the
//! AWS-compatible control plane), PKI helpers, the policy simulator and operations commands.

mod serve;

use clap::{Parser, Subcommand};

/// Trade a device's X.509 certificate for short-lived, least-privilege AWS-style credentials,
/// and honour them on S3, IoT, IAM and STS APIs.
#[derive(Parser)]
#[command(name = "iotcreds", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iotcreds: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
