#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod conformance;
pub mod generate;
pub mod memory;
pub mod mutate;
pub mod sim;

pub use conformance::{ConnectorFixture, ErpFault, ErpFixture, Fault, Report};
pub use generate::{ChannelProfile, Generator, GeneratorConfig, Rng};
pub use memory::{InMemoryConnector, InMemoryErp, InMemoryMarketplace};
