//! Consumer classes as people write them: helper methods inside the `#[consumer] impl` (`#[helper]`),
//! and behaviour shared between consumers the way Channels projects use mixins (a login-required base,
//! a tournament-group base): traits with default methods, called from each consumer's handlers.

use crate::common;

use channels::prelude::*;
use common::{connect, next_text, refused_status, send_text, start};

/// Channels' login-required mixin: only connections whose query string carries a token are accepted.
trait LoginRequired {
    /// Accepts the connection if it is logged in, else rejects it (403); whether it accepted.
    async fn accept_if_logged_in(&self, message: &Message) -> Result<bool> {
        if message.content.query_string().contains("token=") {
            message.reply_channel.accept().await?;
            Ok(true)
        } else {
            message.reply_channel.reject().await?;
            Ok(false)
        }
    }
}

/// A tournament-group mixin: its consumers share a group per tournament and its news.
trait TournamentMember {
    /// The tournament, from the consumer's path.
    fn tournament(&self) -> &str;

    /// The tournament's group.
    fn tournament_group(&self) -> Result<Group> {
        Group::new(format!("tournament.{}", self.tournament()))
    }

    /// Joins the tournament's group.
    async fn join_tournament(&self, message: &Message) -> Result<()> {
        self.tournament_group()?.add(&message.reply_channel).await
    }

    /// Tells every member of the tournament.
    async fn announce(&self, text: String) -> Result<()> {
        self.tournament_group()?
            .send(json!({"type": "tournament.news", "text": text}))
            .await
    }
}

#[derive(serde::Deserialize)]
struct News {
    text: String,
}

struct ScoreConsumer {
    tournament: String,
    scores: u32,
}

impl LoginRequired for ScoreConsumer {}

impl TournamentMember for ScoreConsumer {
    fn tournament(&self) -> &str {
        &self.tournament
    }
}

#[consumer]
impl ScoreConsumer {
    fn new(tournament: String) -> Self {
        ScoreConsumer {
            tournament,
            scores: 0,
        }
    }

    async fn connect(&mut self, message: Message) -> Result<()> {
        if self.accept_if_logged_in(&message).await? {
            self.join_tournament(&message).await?;
        }
        Ok(())
    }

    async fn receive(&mut self, message: Message) -> Result<()> {
        self.scores += 1;
        let line = self.score_line(message.text().unwrap_or_default());
        self.announce(line).await
    }

    async fn tournament_news(&mut self, message: Message, news: News) -> Result<()> {
        message
            .reply_channel
            .send_text(format!("score: {}", news.text))
            .await
    }

    /// A helper: not an event handler, so no `tournament.*` event reaches it.
    #[helper]
    fn score_line(&self, text: &str) -> String {
        format!("{} scored {} (#{})", self.tournament, text, self.scores)
    }
}

struct ChatConsumer {
    tournament: String,
}

impl LoginRequired for ChatConsumer {}

impl TournamentMember for ChatConsumer {
    fn tournament(&self) -> &str {
        &self.tournament
    }
}

#[consumer]
impl ChatConsumer {
    fn new(tournament: String) -> Self {
        ChatConsumer { tournament }
    }

    async fn connect(&mut self, message: Message) -> Result<()> {
        if self.accept_if_logged_in(&message).await? {
            self.join_tournament(&message).await?;
        }
        Ok(())
    }

    async fn receive(&mut self, message: Message) -> Result<()> {
        let text = Self::quote(message.text().unwrap_or_default());
        self.announce(text).await
    }

    async fn tournament_news(&mut self, message: Message, news: News) -> Result<()> {
        message
            .reply_channel
            .send_text(format!("chat: {}", news.text))
            .await
    }

    #[helper]
    fn quote(text: &str) -> String {
        format!("\"{text}\"")
    }
}

channel_routing! {
    route_class(ScoreConsumer, path = r"^/scores/(?P<tournament>\w+)/$"),
    route_class(ChatConsumer, path = r"^/chat/(?P<tournament>\w+)/$"),
}

#[tokio::test]
async fn shared_behaviour_and_helpers_work_in_both_consumers() {
    let (server, _layer) = start(channel_routing()).await;
    let addr = server.local_addr();
    let mut scores = connect(addr, "/scores/cup/?token=a").await;
    let mut chat = connect(addr, "/chat/cup/?token=b").await;
    send_text(&mut scores, "7").await;
    assert_eq!(next_text(&mut scores).await, "score: cup scored 7 (#1)");
    assert_eq!(next_text(&mut chat).await, "chat: cup scored 7 (#1)");
    send_text(&mut chat, "well played").await;
    assert_eq!(next_text(&mut scores).await, "score: \"well played\"");
    assert_eq!(next_text(&mut chat).await, "chat: \"well played\"");
}

#[tokio::test]
async fn the_login_required_mixin_rejects_in_every_consumer() {
    let (server, _layer) = start(channel_routing()).await;
    let addr = server.local_addr();
    assert_eq!(refused_status(addr, "/scores/cup/").await, 403);
    assert_eq!(refused_status(addr, "/chat/cup/").await, 403);
}

#[tokio::test]
async fn an_event_named_like_a_helper_is_not_dispatched_to_it() {
    let (server, _layer) = start(channel_routing()).await;
    let mut scores = connect(server.local_addr(), "/scores/solo/?token=a").await;
    group!("tournament.solo")
        .with_layer(server.layer())
        .send(json!({"type": "score.line", "text": "x"}))
        .await
        .expect("sent");
    // An event with no handler (a helper is none): Channels 4 closes the connection with 1011.
    assert_eq!(common::close_code(&mut scores).await, 1011);
}
