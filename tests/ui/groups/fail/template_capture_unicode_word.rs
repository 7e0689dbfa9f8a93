use channels::prelude::*;

#[consumer]
async fn join(message: Message, room_name: String) -> Result<()> {
    group!("chat_{room_name}").add(&message.reply_channel).await
}

channel_routing! {
    URLRouter([
        re_path(r"ws/chat/(?P<room_name>\w+)/$", join),
    ])
}

fn main() {}
