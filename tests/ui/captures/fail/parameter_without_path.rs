use channels::prelude::*;

#[consumer]
async fn echo_times(message: Message, times: u32) -> Result<()> {
    let text = message.text().unwrap_or_default().repeat(times as usize);
    message.reply_channel.send_text(text).await
}

channel_routing! {
    "websocket.receive" => echo_times,
}

fn main() {}
