use channels::prelude::*;

#[consumer(atomic)]
fn transfer(message: Message) -> Result<()> {
    message.reply_channel.send_text_blocking("done")
}

channel_routing! {
    "websocket.receive" => transfer,
}

fn main() {}
