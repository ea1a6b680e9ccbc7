//! Reasons for panics on the connection's own threads. A panic inside
//! async-nats' connection task ends that task silently (tokio catches it);
//! the supervisor in `session.rs` notices the task is gone and wants to say
//! why, so the last such panic's message and place are kept here.

use std::any::Any;
use std::sync::{Mutex, Once};

/// The prefix of the runtime's thread names (`runtime.rs`).
pub const THREAD_NAME: &str = "choria-nats";

static LAST: Mutex<Option<String>> = Mutex::new(None);
static HOOK: Once = Once::new();

/// Keeps the message of every panic on a runtime thread, then lets the hook
/// that was there before (Ruby's process prints it to standard error) run.
pub fn record() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let ours = std::thread::current()
                .name()
                .is_some_and(|name| name.starts_with(THREAD_NAME));
            if ours {
                let place = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                let line = format!("{}{place}", message(info.payload()));
                *LAST.lock().unwrap_or_else(|p| p.into_inner()) = Some(line);
            }
            previous(info);
        }));
    });
}

/// The latest panic on a runtime thread since the last call, if any.
pub fn take_last() -> Option<String> {
    LAST.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// The text a panic was raised with.
pub fn message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_message_and_place_of_a_panic_on_a_runtime_thread_only() {
        record();
        let _ = take_last();
        let named = std::thread::Builder::new()
            .name(format!("{THREAD_NAME}-test"))
            .spawn(|| panic!("slice index starts at 5 but ends at 4"))
            .expect("a thread");
        assert!(named.join().is_err());
        let last = take_last().expect("the panic was kept");
        assert!(
            last.starts_with("slice index starts at 5 but ends at 4 at "),
            "{last}"
        );
        assert!(last.contains("panics.rs:"), "{last}");
        assert_eq!(take_last(), None, "taken once");
        let other = std::thread::spawn(|| panic!("not ours"));
        assert!(other.join().is_err());
        assert_eq!(take_last(), None);
    }
}
