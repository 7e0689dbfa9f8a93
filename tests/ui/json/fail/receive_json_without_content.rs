use channels::prelude::*;

#[derive(Default)]
struct Echo;

impl JsonWebsocketConsumer for Echo {}

#[consumer]
impl Echo {
    async fn receive_json(&mut self) -> Result<()> {
        Ok(())
    }
}

fn main() {}
