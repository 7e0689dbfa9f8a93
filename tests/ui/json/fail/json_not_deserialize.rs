use channels::prelude::*;

struct Move {
    x: i32,
}

#[consumer]
async fn play(message: Message, Json(mv): Json<Move>) -> Result<()> {
    message.reply_channel.send_json(&json!({"x": mv.x})).await
}

fn main() {}
