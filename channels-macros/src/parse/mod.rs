//! Phase 1: the routing table and the consumers as syn sees them. No checks beyond the grammar, and
//! arguments given twice (each reported at its second occurrence).

mod asgi;
mod consumer;
mod table;

pub use asgi::{
    App, AsgiEntry, ChannelEntry, Router, UrlEntry, UrlKind, UrlList, UrlSource, UrlTarget,
};
pub use consumer::{ConsumerArgs, ConsumerItem, consumer_args, consumer_item};
pub use table::{Entry, EntryKind, Field, Table, TableForm, table};
