//! The integration tests, over real sockets, in one test binary (so CI links once, not once per file).
//!
//! Each module is one area (`tests/integration/<area>_<topic>.rs`); `common` holds the helpers they share;
//! the examples are compiled in as modules so their routing tables are tested exactly as they ship.

// Each example declares `mod common;` (examples/common: their shared `--bind`/`--redis` options), so that
// file is loaded once per example here, as it is once per example binary.
#![allow(clippy::duplicate_mod)]

mod common;

#[cfg(feature = "axum")]
#[path = "../../examples/axum_chat.rs"]
#[allow(dead_code)]
mod axum_chat;
#[path = "../../examples/chat.rs"]
#[allow(dead_code)]
mod chat;
// The examples' shared options, on their own: tests parse the limit flags with them.
#[path = "../../examples/echo.rs"]
#[allow(dead_code)]
mod echo;
#[path = "../../examples/common/mod.rs"]
#[allow(dead_code)]
mod example_common;
#[path = "../../examples/rooms.rs"]
#[allow(dead_code)]
mod rooms;
#[path = "../../examples/sse.rs"]
#[allow(dead_code)]
mod sse;
#[path = "../../examples/ticker.rs"]
#[allow(dead_code)]
mod ticker;
#[path = "../../examples/token_auth.rs"]
#[allow(dead_code)]
mod token_auth;
#[path = "../../examples/tutorial_chat.rs"]
#[allow(dead_code)]
mod tutorial_chat;

mod auth_example_token;
mod auth_middleware;
#[cfg(feature = "axum")]
mod axum_mount;
mod bench_smoke;
#[cfg(feature = "axum")]
mod browser_axum_chat;
mod browser_tutorial_chat;
mod delivery_direct;
mod delivery_flush;
mod delivery_slow_clients;
mod demux_streams;
mod django_auth;
mod docs_readme;
mod dsl_class;
mod dsl_class_helpers;
mod dsl_class_new_once;
mod dsl_groups;
mod dsl_hygiene;
mod dsl_routing;
mod errors_group_names;
mod errors_modes;
#[cfg(feature = "axum")]
mod example_axum_chat;
mod example_chat;
mod example_echo;
mod example_rooms;
mod example_tutorial_chat;
mod fuzz_regressions;
mod harness_communicators;
mod interop_django;
mod interop_fernet;
mod interop_support;
mod json_consumers;
mod layer_conformance;
mod layer_per_server;
mod observability;
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
mod server_handshake;
mod server_http;
mod server_http_streaming;
mod server_keepalive;
mod server_limits;
mod server_listeners;
mod server_origin;
mod server_reads;
mod server_subprotocols;
mod session_channel;
mod workers;
