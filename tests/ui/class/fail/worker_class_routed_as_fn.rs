use channels::prelude::*;

#[derive(Default)]
struct ThumbnailWorker;

#[consumer]
impl ThumbnailWorker {
    fn thumbnails_make(&mut self, message: Message) -> Result<()> {
        message.reply_channel.send_text_blocking("done")
    }
}

channel_routing! {
    "thumbnails.generate" => ThumbnailWorker,
}

fn main() {}
