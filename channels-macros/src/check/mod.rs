//! Phase 2: checks, and the validated model that code generation reads.
//!
//! - `table`: each route's names and path, and reachability (a route that an earlier one always
//!   shadows);
//! - `names`: event and channel names, against `channels-names` (the runtime's rule);
//! - `regex`: path regexes, with `regex-syntax` (the runtime's parser);
//! - `asgi`: Channels 2+ entries (`ProtocolTypeRouter`, `URLRouter`, `re_path`, `path`,
//!   `ChannelNameRouter`);
//! - `style`, `lang`: what a pattern can match, on its regex language (a pattern copied between
//!   Channels 1.x and 2+ tables, a route shadowed by an earlier one);
//! - `groups`: declared group names and their `{capture}` placeholders;
//! - `consumer_fn`, `consumer_class` (sharing `params`): consumer signatures.
//!
//! Captures against parameters are checked by the generated code (see `expand`): only the compiler
//! sees both the table and the consumers, and only it knows whether a parameter's type is a path
//! capture or an extractor.

mod asgi;
mod body_groups;
mod consumer_class;
mod consumer_fn;
mod groups;
mod lang;
mod name_safe;
mod names;
mod params;
mod regex;
mod style;
mod table;

pub use asgi::UrlInfo;
pub use body_groups::{group_call, placeholders};
pub use consumer_class::{ClassModel, Handler, HandlerArg, HandlerKind, consumer_impl, is_helper};
pub use consumer_fn::{FnModel, consumer_fn};
pub use groups::{GroupTemplate, group_name};
pub use params::{MessageArg, Param};
pub use table::{CheckedTable, path_text, table};
