use channels::prelude::*;

channel_routing! {
    route_demultiplexer(path = r"^/multiplex/$"),
}

fn main() {}
