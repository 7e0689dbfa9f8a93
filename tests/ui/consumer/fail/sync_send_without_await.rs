use channels::prelude::*;

#[consumer]
fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send(json!({"text": "hi"}));
    Ok(())
}

fn main() {}
