#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod config;
pub mod demo;
pub mod html;
pub mod inspect;
pub mod inventory;
pub mod logging;
pub mod ops;
pub mod purge;
pub mod settled;
pub mod simulate;
pub mod work;
