#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod atp;
pub mod clock;
pub mod engine;
pub mod report;
pub mod retry;
pub mod store;

pub use store::{
    Claim, ClaimRequest, CursorState, ExceptionRecord, ExceptionStatus, Head, LedgerEntry,
    LedgerState, Lineage, LineageQuery, NewException, Outcome, RecordKey, Store, StreamKey,
};

pub use clock::{Clock, ManualClock, Sleeper, SystemClock, TokioSleeper};
pub use engine::{Engine, EngineConfig, EventOutcome, ReplayResult, ShutdownHandle, SyncReport};
pub use retry::RetryPolicy;
