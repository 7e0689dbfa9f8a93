use channels::prelude::*;

#[derive(Default)]
struct ChatConsumer;

#[consumer]
impl ChatConsumer {}

channel_routing! {
    route_class(ChatConsumer, path = r"^/chat/$", text = r"^join"),
}

fn main() {}
