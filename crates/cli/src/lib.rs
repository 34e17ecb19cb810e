#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod demo;
pub mod html;
pub mod purge;
