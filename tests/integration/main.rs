//! The integration tests, over real sockets, in one test binary (so CI links once, not once per file).
//!
//! Each module is one area (`tests/integration/<area>_<topic>.rs`); `common` holds the helpers they share;
//! the examples are compiled in as modules so their routing tables are tested exactly as they ship.

// Each example declares `mod common;` (examples/common: their shared `--bind`/`--redis` options), so that
// file is loaded once per example here, as it is once per example binary.
#![allow(clippy::duplicate_mod)]

mod common;

#[path = "../../examples/chat.rs"]
#[allow(dead_code)]
mod chat;
#[path = "../../examples/echo.rs"]
#[allow(dead_code)]
mod echo;
#[path = "../../examples/rooms.rs"]
#[allow(dead_code)]
mod rooms;
#[path = "../../examples/ticker.rs"]
#[allow(dead_code)]
mod ticker;
#[path = "../../examples/tutorial_chat.rs"]
#[allow(dead_code)]
mod tutorial_chat;

mod bench_smoke;
mod browser_tutorial_chat;
mod delivery_slow_clients;
mod demux_streams;
mod docs_readme;
mod dsl_class;
mod dsl_class_helpers;
mod dsl_class_new_once;
mod dsl_groups;
mod dsl_hygiene;
mod dsl_routing;
mod errors_group_names;
mod errors_modes;
mod example_chat;
mod example_echo;
mod example_rooms;
mod example_tutorial_chat;
mod fuzz_regressions;
mod harness_communicators;
mod interop_django;
mod interop_support;
mod json_consumers;
mod layer_conformance;
mod layer_per_server;
mod realtime_push;
mod redis_delivery;
mod redis_layer;
mod redis_outage;
mod redis_support;
mod routing_channels4;
mod routing_fields;
mod routing_workers;
mod server_builtin_events;
mod server_connect;
mod server_disconnects;
mod server_http;
mod workers;
