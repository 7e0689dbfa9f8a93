use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message) -> u32 {
    message.text().map_or(0, |t| t.len() as u32)
}

fn main() {}
