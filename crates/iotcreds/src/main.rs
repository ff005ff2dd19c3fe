//! `iotcreds`: the server (`iotcreds serve`), its administration (a client of the
//! AWS-compatible control plane), PKI helpers, the policy simulator, operations commands and
//! device-side helpers.
//!
//! Exit status: 0 success; 1 error (the AWS error code and message are printed); 2 `policy
//! simulate` found the request denied; 64 the command line is wrong.

// The doc comments of the CLI's arguments are its `--help` text, written for a terminal
// (`[\w+=,.@-]`, `HOST[:PORT]`, `BUCKET.<domain>`), not rustdoc markup.
#[allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]
mod cli;
mod logging;
#[allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)] // --help text, as `cli`
pub(crate) mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's allocator: request handling allocates and frees many small,
/// short-lived buffers on every worker thread, where glibc's arenas spent ~9% of the server's
/// CPU on a 4 KiB GET (perf profile; see bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status of a command-line usage error (sysexits' EX_USAGE), distinct from `policy
/// simulate`'s "denied" (2).
const EXIT_USAGE: u8 = 64;

/// Trade a device's X.509 certificate for short-lived, least-privilege AWS-style credentials,
/// and honour them on S3, IoT, IAM and STS APIs.
#[derive(Parser, Debug)]
#[command(name = "iotcreds", version, about, propagate_version = true)]
struct Cli {
    /// Output format of the administration, PKI, simulator and operations commands.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "IOTCREDS_OUTPUT",
        default_value = "text"
    )]
    output: cli::output::Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    #[command(flatten)]
    Client(cli::Command),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Serve(args) => serve::run(args).map(|()| cli::Status::Success),
        Command::Client(command) => cli::run(command, cli.output),
    };
    match result {
        Ok(cli::Status::Success) => ExitCode::SUCCESS,
        Ok(cli::Status::Denied) => ExitCode::from(2),
        Err(e) => {
            eprintln!("iotcreds: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests;
