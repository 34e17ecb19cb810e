#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod config;
pub mod demo;
pub mod html;
pub mod inspect;
pub mod logging;
pub mod ops;
pub mod purge;
pub mod simulate;
