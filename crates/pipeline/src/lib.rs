#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod atp;
pub mod clock;
pub mod engine;
#[cfg(feature = "nats")]
pub mod nats;
pub mod queue;
pub mod ratelimit;
pub mod reconcile;
pub mod report;
pub mod retry;
pub mod store;

pub use store::{
    Claim, ClaimRequest, CursorState, ExceptionRecord, ExceptionStatus, Head, LedgerEntry,
    LedgerState, Lineage, LineageQuery, NewException, Outcome, RecordKey, Store, StreamKey,
};

pub use clock::{Clock, ManualClock, Sleeper, SystemClock, TokioSleeper};
pub use engine::{
    AtpSource, ConnectorReport, Engine, EngineConfig, EventOutcome, InventoryPushReport, Lookback,
    ReplayResult, ShutdownHandle, StreamKind, StreamResult, SyncAllReport, SyncReport,
};
pub use queue::{
    InProcessQueue, QueuedOrder, WorkItem, WorkQueue, WorkerOptions, WorkerReport, run_worker,
};
pub use ratelimit::{GovernedConnector, GovernedErp, Priority, TokenBudget};
pub use reconcile::{ReconcileReport, SettlementOutcome};
pub use retry::RetryPolicy;
