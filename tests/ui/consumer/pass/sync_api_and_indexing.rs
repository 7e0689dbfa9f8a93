//! `message["text"]` indexes like `message.content["text"]`, and the sync API has the forms Channels'
//! sync consumers use.
use channels::prelude::*;

#[consumer]
fn ws_receive(message: Message) -> Result<()> {
    if message["text"] == "close" {
        return message.reply_channel.close_blocking();
    }
    message
        .reply_channel
        .send_json_blocking(&json!({"echo": message["text"]}))
}

#[consumer]
fn http_index(message: Message) -> Result<()> {
    message
        .reply_channel
        .respond_blocking(HttpResponse::text("index"))
}

channel_routing! {
    "websocket.receive" => ws_receive,
    "http.request" => http_index,
}

fn main() {
    let _ = channel_routing();
}
