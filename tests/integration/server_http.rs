//! `http.request` consumers: the response leaves when it is sent, not when the consumer returns; a consumer
//! that never answers gets the client a 503 after `http_timeout`, one that returns without answering a 500.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use channels::prelude::*;
use common::*;
use tokio::sync::Notify;

fn routing(after_response: Arc<Notify>) -> Routing {
    let answer_then_work = Consumer::from_async("answer_then_work", move |m: Message| {
        let after_response = after_response.clone();
        async move {
            m.reply_channel
                .respond(HttpResponse::text("answered"))
                .await?;
            // Still running: the client has its answer already.
            after_response.notified().await;
            Ok::<(), Error>(())
        }
    });
    let never = Consumer::from_async("never", |_m: Message| std::future::pending::<()>());
    let silent = Consumer::from_async("silent", |_m: Message| async {});
    let dict = Consumer::from_async("dict", |m: Message| async move {
        m.reply_channel
            .send(json!({"status": 201, "headers": [["x-from", "dict"]], "content": "made"}))
            .await
    });
    Routing::new()
        .route(Route::to(
            "http.request",
            Some(r"^/answer/$"),
            answer_then_work,
        ))
        .route(Route::to("http.request", Some(r"^/never/$"), never))
        .route(Route::to("http.request", Some(r"^/silent/$"), silent))
        .route(Route::to("http.request", Some(r"^/dict/$"), dict))
}

#[tokio::test]
async fn the_response_leaves_before_the_consumer_returns() {
    let after_response = Arc::new(Notify::new());
    let (server, _) = start(routing(after_response.clone())).await;
    let (status, body) = http_get(server.local_addr(), "/answer/").await;
    assert_eq!(status, 200);
    assert_eq!(body, "answered");
    after_response.notify_one();
}

#[tokio::test]
async fn a_consumer_that_never_answers_gets_503_after_the_timeout() {
    let config = ServerConfig::default().http_timeout(Duration::from_millis(50));
    let (server, _) = start_with(routing(Arc::new(Notify::new())), config).await;
    let (status, _) = http_get(server.local_addr(), "/never/").await;
    assert_eq!(status, 503);
}

#[tokio::test]
async fn a_consumer_that_returns_without_answering_gets_500() {
    let (server, _) = start(routing(Arc::new(Notify::new()))).await;
    let (status, _) = http_get(server.local_addr(), "/silent/").await;
    assert_eq!(status, 500);
}

#[tokio::test]
async fn channels_1x_response_dicts_work() {
    let (server, _) = start(routing(Arc::new(Notify::new()))).await;
    let (status, body) = http_get(server.local_addr(), "/dict/").await;
    assert_eq!(status, 201);
    assert_eq!(body, "made");
}
