use channels::prelude::*;

#[consumer]
async fn ws_message(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

fn main() {
    channel_routing! {
        /// The chat routes.
        let routing;
        "websocket.receive" => ws_message,
    }
    let _ = routing;
}
