use channels::prelude::*;

struct Room {
    room: String,
}

#[consumer]
impl Room {
    fn new(room: String) -> Self {
        Room { room }
    }
}

channel_routing! {
    route_demultiplexer(path = r"^/multiplex/$", consumers = {"room": Room}),
}

fn main() {}
