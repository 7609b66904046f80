//! Async twins of the blocking calls: each runs on tokio's blocking pool, so an async
//! caller never blocks its runtime's worker threads. Awaited outside a tokio runtime,
//! each returns `Error::NoRuntime`.

use actlog_model::{Activity, ActivityId, ActivityType, NewActivity, TypeDefinition, TypeRef};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::subscribe::Subscription;
use crate::{Outcome, Stats};

impl Engine {
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(Engine) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let engine = self.clone();
        runtime
            .spawn_blocking(move || f(engine))
            .await
            .map_err(|join| Error::Indexer(format!("blocking task failed: {join}")))?
    }

    /// [`append_batch`](Self::append_batch) without blocking the runtime.
    ///
    /// # Cancel safety
    /// Dropping the future does not cancel the write: the batch is recorded (or not) as a
    /// whole either way, never half.
    pub async fn append_batch_async(&self, items: Vec<NewActivity>) -> Result<Vec<Outcome>> {
        self.blocking(move |e| e.append_batch(items)).await
    }

    /// [`get`](Self::get) without blocking the runtime.
    pub async fn get_async(&self, id: ActivityId) -> Result<Option<Activity>> {
        self.blocking(move |e| e.get(id)).await
    }

    /// [`create_type`](Self::create_type) without blocking the runtime.
    pub async fn create_type_async(&self, definition: TypeDefinition) -> Result<ActivityType> {
        self.blocking(move |e| e.create_type(definition)).await
    }

    /// [`approve_type`](Self::approve_type) without blocking the runtime.
    pub async fn approve_type_async(&self, r: TypeRef) -> Result<ActivityType> {
        self.blocking(move |e| e.approve_type(r)).await
    }

    /// [`stats`](Self::stats) without blocking the runtime.
    pub async fn stats_async(&self) -> Result<Stats> {
        self.blocking(move |e| e.stats()).await
    }

    /// [`sync`](Self::sync) without blocking the runtime.
    pub async fn sync_async(&self) -> Result<()> {
        self.blocking(move |e| e.sync()).await
    }

    /// [`wait_indexed`](Self::wait_indexed) without blocking the runtime.
    pub async fn wait_indexed_async(&self) -> Result<()> {
        self.blocking(move |e| e.wait_indexed()).await
    }

    /// Runs any blocking engine call on tokio's blocking pool.
    ///
    /// ```no_run
    /// # async fn f(engine: actlog::Engine) -> actlog::Result<()> {
    /// let types = engine.run_blocking(|e| Ok(e.activity_types())).await?;
    /// # Ok(()) }
    /// ```
    pub async fn run_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(Engine) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.blocking(f).await
    }

    /// A stream of activities from `from` on: catches up, then follows new ones.
    ///
    /// # Errors
    /// [`Error::NoRuntime`] outside a tokio runtime.
    pub fn subscribe(&self, from: ActivityId) -> Result<Subscription> {
        self.inner.check_open()?;
        Subscription::start(std::sync::Arc::clone(&self.inner), from)
    }
}
