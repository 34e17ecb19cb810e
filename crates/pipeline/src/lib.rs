#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod atp;
pub mod report;
pub mod store;

pub use store::{
    Claim, ClaimRequest, CursorState, ExceptionRecord, ExceptionStatus, Head, LedgerEntry,
    LedgerState, Lineage, LineageQuery, NewException, Outcome, RecordKey, Store, StreamKey,
};
