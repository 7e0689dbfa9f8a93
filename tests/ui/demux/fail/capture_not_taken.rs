use channels::prelude::*;

#[derive(Default)]
struct Echo;

#[consumer]
impl Echo {}

channel_routing! {
    route_demultiplexer(path = r"^/multiplex/(?P<room>\w+)/$", consumers = {"echo": Echo}),
}

fn main() {}
