//! [`Worker`]: runs consumers for custom channels (Channels' `runworker`).

use std::sync::Arc;

use serde_json::Value;

use super::invoke;
use crate::layer::{ChannelLayer, InMemoryLayer, LayerMessage};
use crate::message::{MessageBuilder, Scope};
use crate::routing::Routing;
use crate::{ReplyChannel, context};

/// Reads the custom channels of a routing table and runs their consumers, one message at a time per
/// channel, in FIFO order (Channels' `manage.py runworker`).
///
/// A [`Server`](crate::Server) runs one inside itself by default. A separate worker process needs a layer
/// that spans processes; its code is the same:
///
/// ```no_run
/// use channels_runtime::{routing::Routing, Worker};
/// # async fn f(routing: Routing) {
/// Worker::new(routing).run().await;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Worker {
    routing: Arc<Routing>,
    layer: Arc<dyn ChannelLayer>,
    default_layer: bool,
}

impl Worker {
    /// A worker for `routing` on a new in-memory layer (use [`with_layer`](Self::with_layer) to share one).
    pub fn new(routing: Routing) -> Self {
        Worker {
            routing: Arc::new(routing),
            layer: Arc::new(InMemoryLayer::new()),
            default_layer: false,
        }
    }

    /// Uses `layer`.
    pub fn with_layer(mut self, layer: Arc<dyn ChannelLayer>) -> Self {
        self.layer = layer;
        self
    }

    /// Makes this worker's layer the process default when it starts running, as
    /// [`Server::set_as_default_layer`](crate::Server::set_as_default_layer) does for a server. Its
    /// consumers use its layer either way.
    pub fn set_as_default_layer(mut self) -> Self {
        self.default_layer = true;
        self
    }

    pub(crate) fn from_parts(routing: Arc<Routing>, layer: Arc<dyn ChannelLayer>) -> Self {
        Worker {
            routing,
            layer,
            default_layer: false,
        }
    }

    /// Runs until the future is dropped. With no custom channels in the routing, it waits forever.
    pub async fn run(self) {
        if self.default_layer {
            super::listen::make_default(&self.layer, "worker");
        }
        // While it runs, `*_blocking` calls from plain threads may use this runtime.
        let _runtime = context::register_runtime(tokio::runtime::Handle::current());
        let channels = self.routing.custom_channels();
        if channels.is_empty() {
            tracing::info!("worker: the routing has no custom channels");
        }
        let loops = channels.into_iter().map(|channel| {
            let worker = self.clone();
            async move { worker.serve_channel(channel).await }
        });
        tokio::join!(
            futures_util::future::join_all(loops),
            crate::layer::clock::tick()
        );
        std::future::pending::<()>().await
    }

    async fn serve_channel(&self, channel: Arc<str>) {
        let Some(consumer) = self.routing.resolve(&channel, "") else {
            tracing::warn!(%channel, "worker: no route binds this channel");
            return;
        };
        tracing::debug!(%channel, consumer = consumer.name(), "worker listening");
        loop {
            let message = match self.layer.receive(&channel).await {
                Ok(message) => message,
                Err(error) => {
                    tracing::error!(%channel, error = &error as &dyn std::error::Error, "worker: receive failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    continue;
                }
            };
            let builder = MessageBuilder::new(channel.clone(), Arc::new(Scope::default()));
            let (builder, reply) = match message {
                LayerMessage::Json(payload) => {
                    let reply = match payload.get("reply_channel").and_then(Value::as_str) {
                        Some(name) => ReplyChannel::new(name, self.layer.clone()),
                        None => ReplyChannel::none(),
                    };
                    (builder.payload(payload), reply)
                }
                LayerMessage::Text(text) => (builder.text(text), ReplyChannel::none()),
                LayerMessage::Binary(bytes) => (builder.bytes(bytes), ReplyChannel::none()),
                other => {
                    tracing::warn!(%channel, message = ?other, "worker: not a channel message; dropped");
                    continue;
                }
            };
            let message = builder.build(reply);
            if let Err(failure) = invoke::start(&consumer, message, &self.layer).await {
                invoke::log_failure(consumer.name(), &channel, &failure);
            }
        }
    }
}
