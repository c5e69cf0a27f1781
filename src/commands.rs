//! What each command does, returning its exit status (SPEC section 1).

use crate::cli::{Cli, Command, DiagnosticFormat, GraphFormat, RunArgs, StateCommand};
use crate::config::model::{Level, LogFormat};
use crate::config::{self, Loaded, schema::SCHEMA};
use crate::logger;
use crate::plan::graph;
use std::io::{self, Write};
use std::path::Path;

/// Exit statuses.
pub mod exit {
    pub const OK: i32 = 0;
    /// `validate`: some file invalid. `run`: some files failed.
    pub const FAILED: i32 = 1;
    /// Invalid configuration or usage.
    pub const USAGE: i32 = 2;
    /// Fatal runtime error: state or log unusable.
    pub const FATAL: i32 = 3;
}

/// Runs the parsed command line.
pub fn main(cli: Cli) -> i32 {
    match cli.command {
        Some(Command::Run(args)) => run(&args),
        Some(Command::Validate { files, format }) => validate(&files, format),
        Some(Command::Graph { pipeline, format }) => draw(&pipeline, format),
        Some(Command::Schema) => print(SCHEMA),
        Some(Command::State(StateCommand::Show { file, format })) => show_state(&file, format),
        None => run(&cli.run),
    }
}

/// Writes to stdout; a closed pipe (`runner graph x | head`) is not an error.
fn print(text: &str) -> i32 {
    match io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("runner: cannot write to stdout: {e}");
            exit::FATAL
        }
        _ => exit::OK,
    }
}

/// Prints the diagnostics of a loaded file on stderr.
fn report(loaded: &Loaded) {
    let mut err = io::stderr().lock();
    for d in &loaded.diagnostics {
        let _ = write!(err, "{}", loaded.source.render(d));
    }
}

fn validate(files: &[std::path::PathBuf], format: DiagnosticFormat) -> i32 {
    let mut invalid = 0;
    let mut located = Vec::new();
    for file in files {
        let loaded = config::load(file);
        if loaded.has_errors() {
            invalid += 1;
        }
        match format {
            DiagnosticFormat::Text => {
                report(&loaded);
                if !loaded.has_errors() {
                    eprintln!("{}: ok", file.display());
                }
            }
            DiagnosticFormat::Json => {
                located.extend(loaded.diagnostics.iter().map(|d| loaded.source.locate(d)));
            }
        }
    }
    if format == DiagnosticFormat::Json {
        let json = serde_json::to_string_pretty(&located).expect("diagnostics serialize");
        print(&format!("{json}\n"));
    } else if files.len() > 1 {
        eprintln!("{} of {} files valid", files.len() - invalid, files.len());
    }
    if invalid > 0 { exit::FAILED } else { exit::OK }
}

/// Loads a pipeline for a command that needs a valid one; prints diagnostics.
fn load_valid(path: &Path) -> Result<crate::plan::Plan, i32> {
    let loaded = config::load(path);
    report(&loaded);
    loaded.plan.ok_or(exit::USAGE)
}

fn draw(path: &Path, format: GraphFormat) -> i32 {
    match load_valid(path) {
        Ok(plan) => print(&match format {
            GraphFormat::Text => graph::text(&plan),
            GraphFormat::Dot => graph::dot(&plan),
        }),
        Err(code) => code,
    }
}

fn run(args: &RunArgs) -> i32 {
    let Some(path) = &args.pipeline else {
        eprintln!("runner: no pipeline file given (try `runner --help`)");
        return exit::USAGE;
    };
    let mut plan = match load_valid(path) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    if let Some(w) = args.workers {
        plan.workers = usize::from(w);
    }
    // The log next: a log file that cannot be created stops the run before any file is touched.
    // A dry run writes nothing, not even its log.
    let policy = plan.logger.as_ref().filter(|_| !args.dry_run);
    let config = policy.map(|l| logger::Config {
        path: l.path.clone(),
        level: match l.level {
            Level::Error => log::LevelFilter::Error,
            Level::Warn => log::LevelFilter::Warn,
            Level::Info => log::LevelFilter::Info,
            Level::Debug => log::LevelFilter::Debug,
            Level::Trace => log::LevelFilter::Trace,
        },
        format: match l.format {
            LogFormat::Text => logger::Format::Text,
            LogFormat::Json => logger::Format::Json,
        },
        buffer: l.buffer,
        flush_every: l.flush_every,
        max_size: l.max_size,
        keep: l.keep,
        compress: l.compress,
    });
    let terminal = if args.quiet {
        logger::Terminal::Quiet
    } else if args.verbose {
        logger::Terminal::Verbose
    } else {
        logger::Terminal::Normal
    };
    let log = match logger::init_with(config, terminal) {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("runner: {e}");
            return exit::FATAL;
        }
    };
    let code = if args.watch {
        crate::watch::run(&plan, args)
    } else {
        crate::exec::run(&plan, args)
    };
    let dropped = log.dropped();
    log.shutdown();
    if dropped > 0 {
        eprintln!(
            "runner: {dropped} log record(s) could not be written to the log file and were dropped"
        );
    }
    code
}

fn show_state(path: &Path, format: DiagnosticFormat) -> i32 {
    let state = match crate::state::store::read(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("runner: {e}");
            return exit::FAILED;
        }
    };
    match format {
        DiagnosticFormat::Json => print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&state).expect("state serializes")
        )),
        DiagnosticFormat::Text => print(&crate::state::show::text(&state)),
    }
}
