use channels::prelude::*;

#[derive(Default)]
struct ChatConsumer;

trait Receive {
    fn receive(&mut self, message: Message);
}

#[consumer]
impl Receive for ChatConsumer {
    fn receive(&mut self, message: Message) {
        let _ = message;
    }
}

fn main() {}
