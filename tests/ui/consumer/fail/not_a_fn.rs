use channels::prelude::*;

#[consumer]
struct ChatConsumer {
    room: String,
}

fn main() {}
