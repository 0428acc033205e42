//! An init hook: a connection pool built once from `worker_config`, before the first poll, and
//! read by every task with `ctx.state::<Pool>()` (stefuna 1.0.1's `Worker.init()`).
//!
//! ```sh
//! STEFUNA_WORKER_CONFIG__DB_URL=postgres://orders-db/orders \
//!   cargo run --example init -- --local --input '{"order": 7}'
//! ```
//!
//! Without `worker_config.db_url` the hook fails: the worker prints one line naming the problem
//! and exits 1 before it polls.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use stefuna::{Context, InitContext, InitError, TaskError};

/// The `worker_config` keys this worker reads.
#[derive(Deserialize)]
struct DbSettings {
    db_url: String,
    #[serde(default = "default_pool_size")]
    pool_size: usize,
}

fn default_pool_size() -> usize {
    4
}

/// A stand-in for a database pool (no network here): hands out its connections in turn.
struct Pool {
    url: String,
    size: usize,
    next: AtomicUsize,
}

impl Pool {
    fn checkout(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.size
    }
}

/// Runs once, inside the runtime, after the configuration is loaded.
async fn connect(ctx: InitContext) -> Result<Pool, InitError> {
    let db: DbSettings = ctx.worker_config()?;
    if !db.db_url.starts_with("postgres://") {
        return Err(format!(
            "worker_config.db_url {:?} is not a postgres:// URL",
            db.db_url
        )
        .into());
    }
    if db.pool_size == 0 {
        return Err("worker_config.pool_size must be at least 1".into());
    }
    Ok(Pool {
        url: db.db_url,
        size: db.pool_size,
        next: AtomicUsize::new(0),
    })
}

#[derive(Deserialize)]
struct Input {
    order: u64,
}

#[derive(Serialize)]
struct Output {
    order: u64,
    db: String,
    connection: usize,
    pool_size: usize,
}

#[stefuna::activity(
    arn = "arn:aws:states:us-east-1:123456789012:activity:lookup",
    init = connect
)]
async fn lookup(input: Input, ctx: &Context) -> Result<Output, TaskError> {
    let pool = ctx
        .state::<Pool>()
        .ok_or_else(|| TaskError::new("Lookup.NoPool", "the init hook did not run"))?;
    Ok(Output {
        order: input.order,
        db: pool.url.clone(),
        connection: pool.checkout(),
        pool_size: pool.size,
    })
}
