use channels::prelude::*;

#[consumer]
async fn echo(message: Message) -> Result<()> {
    message.reply_channel.send_text("hi").await
}

channel_routing! {
    route_demultiplexer(path = r"^/multiplex/$", consumers = {"echo": echo}),
}

fn main() {}
