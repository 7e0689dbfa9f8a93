use channels::prelude::*;

#[consumer]
async fn ws_connect() -> Result<()> {
    Ok(())
}

fn main() {}
