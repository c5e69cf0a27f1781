//! The `runner` binary: parse the command line, run the command, exit with its status.

use clap::Parser;

fn main() {
    // A write past the file-size limit (RLIMIT_FSIZE) fails that file with EFBIG, like a full
    // disk, instead of killing the process with SIGXFSZ.
    // SAFETY: setting a signal's disposition to "ignore" before any thread starts.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let cli = runner::cli::Cli::parse();
    std::process::exit(runner::commands::main(cli));
}
