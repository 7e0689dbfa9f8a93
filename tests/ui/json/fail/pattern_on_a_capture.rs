use channels::prelude::*;

#[derive(Clone)]
struct Room(String);

impl std::str::FromStr for Room {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Room(s.to_owned()))
    }
}

#[consumer]
async fn join(message: Message, Room(name): Room) -> Result<()> {
    message.reply_channel.send_text(name).await
}

fn main() {}
