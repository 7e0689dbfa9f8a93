use channels::prelude::*;

#[derive(Default)]
struct Worker;

#[consumer]
impl Worker {}

channel_routing! {
    route_class(Worker, channel = "websocket.receive"),
}

fn main() {}
