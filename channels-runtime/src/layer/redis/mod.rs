#![doc = include_str!("GUIDE.md")]
mod codec;
mod config;
mod crypt;
mod fanout;
mod groups;
mod keys;
mod layer;
mod receive;
mod scripts;
mod sessions;
mod shard;
mod state;
mod stats;

pub use config::{EncryptionKeys, RedisConfig, RedisHost};
pub use layer::RedisLayer;
pub use shard::RedisLayerError;
pub use stats::RedisStats;
