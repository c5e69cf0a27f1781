//! The process-wide part: one dispatcher given to `log::set_logger` once, whose current `Logger`
//! is swapped by each `init` (so tests may call `init` more than once), and the panic hook that
//! flushes the current log file.

use crate::logger::error::LoggerError;
use crate::logger::facade::Logger;
use log::{LevelFilter, Log, Metadata, Record};
use std::panic::PanicHookInfo;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

/// What `log`'s macros call: forwards to the current logger.
struct Dispatcher {
    current: RwLock<Option<Arc<Logger>>>,
}

static DISPATCHER: Dispatcher = Dispatcher {
    current: RwLock::new(None),
};

/// Whether our dispatcher is `log`'s logger (set once per process).
static INSTALLED: OnceLock<bool> = OnceLock::new();

impl Log for Dispatcher {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().is_some_and(|l| l.enabled(metadata))
    }

    fn log(&self, record: &Record<'_>) {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(l) = current.as_ref() {
            l.log(record);
        }
    }

    fn flush(&self) {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(l) = current.as_ref() {
            l.flush();
        }
    }
}

/// Makes `logger` the one `log`'s macros reach (installing the dispatcher and the panic hook the
/// first time). The previous logger, if any, is only unhooked: its handle still closes it.
pub(crate) fn install(logger: Arc<Logger>) -> Result<(), LoggerError> {
    let installed = *INSTALLED.get_or_init(|| {
        if log::set_logger(&DISPATCHER).is_err() {
            return false;
        }
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            on_panic(info);
            previous(info);
        }));
        true
    });
    if !installed {
        return Err(LoggerError::AlreadyInstalled);
    }
    let level = logger.max_level();
    *DISPATCHER
        .current
        .write()
        .unwrap_or_else(PoisonError::into_inner) = Some(logger);
    log::set_max_level(level);
    Ok(())
}

/// If `logger` is the current one, replaces it by the stderr logger (warnings and errors still
/// reach the user after the log file is closed).
pub(crate) fn uninstall(logger: &Arc<Logger>) {
    let mut current = DISPATCHER
        .current
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, logger)) {
        *current = Some(Arc::new(Logger::stderr()));
        log::set_max_level(LevelFilter::Warn);
    }
}

/// The panic hook: log the panic and flush, never blocking for long.
fn on_panic(info: &PanicHookInfo<'_>) {
    // A writer of the dispatcher (init/shutdown) holds it only briefly; if it is held now, the
    // log is left alone rather than risking a deadlock inside a panic.
    let Ok(current) = DISPATCHER.current.try_read() else {
        return;
    };
    let Some(logger) = current.as_ref() else {
        return;
    };
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a non-text panic payload)");
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
    logger.on_panic(message, location.as_deref());
}
