use channels::prelude::*;

#[consumer(buffered)]
fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text_blocking("hi")
}

fn main() {}
