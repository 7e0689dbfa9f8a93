use channels::prelude::*;

struct Move {
    x: i32,
}

#[derive(Default)]
struct Game;

impl JsonWebsocketConsumer for Game {}

#[consumer]
impl Game {
    async fn receive_json(&mut self, message: Message, content: Move) -> Result<()> {
        message.reply_channel.send_json(&json!({"x": content.x})).await
    }
}

fn main() {}
