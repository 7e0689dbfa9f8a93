use channels::prelude::*;

struct Message;

#[consumer]
async fn ws_message(message: Message) -> channels::Result<()> {
    let _ = message;
    Ok(())
}

fn main() {}
