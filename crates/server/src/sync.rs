//! A mutex that shrugs off poisoning.

/// `std::sync::Mutex` that recovers from poisoning: every guarded state in this crate is
/// consistent between statements, so a panic elsewhere cannot leave it half-updated.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T>(std::sync::Mutex<T>);

impl<T> Mutex<T> {
    pub(crate) fn new(v: T) -> Self {
        Mutex(std::sync::Mutex::new(v))
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
