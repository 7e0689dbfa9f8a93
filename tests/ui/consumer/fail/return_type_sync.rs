use channels::prelude::*;

#[consumer]
fn ws_message(message: Message) -> Option<()> {
    message.text().map(|_| ())
}

fn main() {}
