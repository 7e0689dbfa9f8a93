//! Phase 1: the routing table and the consumers as syn sees them. No checks beyond the grammar, and
//! arguments given twice (each reported at its second occurrence).

mod asgi;
mod consumer;
mod demux;
mod kwargs;
mod table;

pub use asgi::{
    App, AsgiEntry, ChannelEntry, Router, UrlEntry, UrlKind, UrlList, UrlSource, UrlTarget,
};
pub use consumer::{
    CAPTURES_MARKER, ConsumerArgs, ConsumerItem, ErrorMode, consumer_args, consumer_item,
    group_input,
};
pub use table::{Entry, EntryKind, Field, Table, TableForm, table};
