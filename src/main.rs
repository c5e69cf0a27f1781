//! The `runner` binary: parse the command line, run the command, exit with its status.

use clap::Parser;

fn main() {
    let cli = runner::cli::Cli::parse();
    std::process::exit(runner::commands::main(cli));
}
