//! Any delimiter works; `fn name;` names the table (with any visibility and docs); a typed capture may
//! fall through to a route with the same path; consumers in other modules are reached by path.
#![deny(warnings)]
use channels::prelude::*;

mod consumers {
    use channels::prelude::*;

    #[consumer]
    pub async fn by_number(message: Message, id: u64) -> Result<()> {
        message.reply_channel.send_text(format!("number {id}")).await
    }

    #[consumer]
    pub async fn by_name(message: Message, id: String) -> Result<()> {
        message.reply_channel.send_text(format!("name {id}")).await
    }

    #[consumer]
    pub(crate) async fn http_page(message: &Message) -> Result<()> {
        message.reply_channel.respond(HttpResponse::text("hello")).await
    }
}

channel_routing!(
    /// Items, by number if the id parses as one, else by name.
    pub(crate) fn items_routing;
    "websocket.receive", path = r"^/items/(?P<id>\w+)/$" => consumers::by_number,
    "websocket.receive", path = r"^/items/(?P<id>\w+)/$" => consumers::by_name,
);

channel_routing![
    fn pages;
    "http.request", path = r"^/$" => consumers::http_page,
    include(items_routing),
];

fn main() {
    let routing = pages();
    assert!(routing.errors().is_empty());
    let number = routing.resolve("websocket.receive", "/items/42/").unwrap();
    assert_eq!(number.name(), "by_number");
    let name = routing.resolve("websocket.receive", "/items/abc/").unwrap();
    assert_eq!(name.name(), "by_name");
    assert_eq!(routing.resolve("http.request", "/").unwrap().name(), "http_page");
}
