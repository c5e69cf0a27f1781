//! SIGINT and SIGTERM: the first one asks the run to stop (no new file starts; in batch mode
//! the files in flight finish, in watch mode they get `shutdown_timeout`), a second one ends the
//! process at once. Unfinished outputs are only ever temp files, removed at the next start.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub struct Interrupt {
    signal: Arc<AtomicUsize>,
}

impl Interrupt {
    pub fn install() -> std::io::Result<Interrupt> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let signal = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(AtomicBool::new(false));
        for sig in [SIGINT, SIGTERM] {
            // Registered first, so that it sees `seen` as it was before this signal.
            signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&seen))?;
            signal_hook::flag::register(sig, Arc::clone(&seen))?;
            signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)?;
        }
        Ok(Interrupt { signal })
    }

    /// The signal received, if any.
    pub fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n as i32),
        }
    }
}
