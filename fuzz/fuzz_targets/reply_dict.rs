//! Channels' reply dicts on arbitrary JSON: `ReplyChannel::send`, `Group::send` and `Channel::send` on an
//! `InMemoryLayer`, each checked against a model of the dict written here (what the runtime's docs and
//! ASGI promise), reading what actually arrived on the other end.
//!
//! The JSON is built from the input (keys biased towards the ones Channels knows, values of any shape),
//! or parsed from raw bytes when the input says so.
//!
//! Run: `cargo +nightly fuzz run reply_dict -- -max_total_time=120` (from the repository root).
#![no_main]

use std::sync::Arc;
use std::time::Duration;

use arbitrary::Arbitrary;
use channels_runtime::layer::{ChannelLayer, InMemoryLayer, Inbox, LayerMessage};
use channels_runtime::{Channel, Error, Group, HttpResponse, ReplyChannel};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Number, Value};

#[derive(Debug, Arbitrary)]
enum Key<'a> {
    Text,
    Bytes,
    Accept,
    Close,
    Status,
    Headers,
    Content,
    Type,
    Other(&'a str),
}

impl<'a> Key<'a> {
    fn name(&self) -> &'a str {
        match self {
            Key::Text => "text",
            Key::Bytes => "bytes",
            Key::Accept => "accept",
            Key::Close => "close",
            Key::Status => "status",
            Key::Headers => "headers",
            Key::Content => "content",
            Key::Type => "type",
            Key::Other(name) => name,
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Json<'a> {
    Null,
    Bool(bool),
    Small(u16),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(&'a str),
    Array(Vec<Json<'a>>),
    Object(Vec<(Key<'a>, Json<'a>)>),
}

impl Json<'_> {
    fn value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Small(n) => Value::from(*n),
            Json::U64(n) => Value::from(*n),
            Json::I64(n) => Value::from(*n),
            Json::F64(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Json::Str(s) => Value::String((*s).to_owned()),
            Json::Array(items) => Value::Array(items.iter().map(Json::value).collect()),
            Json::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name().to_owned(), v.value()))
                    .collect(),
            ),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Via {
    Reply,
    Group,
    Channel,
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    via: Via,
    json: Json<'a>,
    /// Parsed with `serde_json` instead of `json`, when it is JSON.
    raw: Option<&'a [u8]>,
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    layer: Arc<InMemoryLayer>,
    inbox: Inbox,
    reply: ReplyChannel,
    group: Group,
    channel: Channel,
}

const JOBS: &str = "fuzz.jobs";

thread_local! {
    static FIXTURE: Fixture = {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let layer = Arc::new(InMemoryLayer::new());
        let dyn_layer: Arc<dyn ChannelLayer> = layer.clone();
        let inbox = rt
            .block_on(layer.new_channel("specific."))
            .expect("reply channel");
        rt.block_on(layer.group_add("fuzz", inbox.name())).expect("group add");
        let reply = ReplyChannel::new(inbox.name(), dyn_layer.clone());
        let group = Group::new("fuzz").expect("name").with_layer(dyn_layer.clone());
        let channel = Channel::new(JOBS).expect("name").with_layer(dyn_layer);
        Fixture { rt, layer, inbox, reply, group, channel }
    };
}

/// `bytes`/`content` as bytes: a list of numbers 0-255, or a string.
fn model_bytes(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect(),
        _ => None,
    }
}

fn model_http(map: &Map<String, Value>) -> Option<LayerMessage> {
    let mut response = HttpResponse::new(200, Vec::new());
    for (key, value) in map {
        match key.as_str() {
            "status" => {
                response.status = value
                    .as_u64()
                    .filter(|s| (100..=999).contains(s))
                    .and_then(|s| u16::try_from(s).ok())?;
            }
            "content" => response.body = model_bytes(value)?.into(),
            "headers" => {
                for header in value.as_array()? {
                    match header.as_array().map(Vec::as_slice) {
                        Some([Value::String(n), Value::String(v)]) => {
                            response.headers.push((n.clone(), v.clone()))
                        }
                        _ => return None,
                    }
                }
            }
            _ => return None,
        }
    }
    Some(LayerMessage::Http(Arc::new(response)))
}

/// What a reply dict stands for (`None`: refused), from the runtime's docs: `text`, `bytes`, `accept`,
/// `close` (WebSocket), sent in the order accept, data, close; or `status`, `headers`, `content` (HTTP).
/// As in ASGI, `text` and `bytes` may both be present when at most one of them is not null.
fn model_reply(value: &Value) -> Option<Vec<LayerMessage>> {
    let map = value.as_object()?;
    // A dict with a `type` is an event, sent whole (a non-string `type` is refused).
    if let Some(kind) = map.get("type") {
        return kind
            .is_string()
            .then(|| vec![LayerMessage::Json(Arc::new(map.clone()))]);
    }
    if map.contains_key("status") {
        return Some(vec![model_http(map)?]);
    }
    let (mut accept, mut data, mut close) = (None, None, None);
    for (key, value) in map {
        match (key.as_str(), value) {
            ("accept", Value::Bool(b)) => accept = Some(*b),
            ("text" | "bytes", Value::Null) => {}
            ("text" | "bytes", _) if data.is_some() => return None,
            ("text", Value::String(s)) => data = Some(LayerMessage::text(s.as_str())),
            ("bytes", value) => data = Some(LayerMessage::Binary(model_bytes(value)?.into())),
            ("close", Value::Bool(true)) => close = Some(1000),
            ("close", Value::Bool(false)) => {}
            ("close", Value::Number(n)) => {
                let code = n.as_u64().and_then(|c| u16::try_from(c).ok())?;
                (code == 1000 || (3000..=4999).contains(&code)).then_some(())?;
                close = Some(code);
            }
            _ => return None,
        }
    }
    let mut out = Vec::new();
    match accept {
        Some(false) if data.is_some() => return None,
        Some(false) => out.push(LayerMessage::Reject),
        Some(true) => out.push(LayerMessage::Accept),
        None => {}
    }
    out.extend(data);
    out.extend(close.map(LayerMessage::Close));
    (!out.is_empty()).then_some(out)
}

/// A group message: an event with a `type` key as it is, or one WebSocket action.
fn model_group(value: &Value) -> Option<Vec<LayerMessage>> {
    if let Value::Object(map) = value
        && map.contains_key("type")
    {
        return Some(vec![LayerMessage::Json(Arc::new(map.clone()))]);
    }
    model_reply(value).filter(|parts| parts.len() == 1)
}

fn drain(inbox: &Inbox) -> Vec<LayerMessage> {
    std::iter::from_fn(|| inbox.try_recv()).collect()
}

fn check(fixture: &Fixture, via: &Via, value: Value) {
    let (expected, result, got) = match via {
        Via::Reply => {
            let expected = model_reply(&value);
            let result = fixture.rt.block_on(fixture.reply.send(value));
            (expected, result, drain(&fixture.inbox))
        }
        Via::Group => {
            let expected = model_group(&value);
            let result = fixture.rt.block_on(fixture.group.send(value));
            (expected, result, drain(&fixture.inbox))
        }
        Via::Channel => {
            let expected = LayerMessage::json(value.clone()).map(|m| vec![m]);
            let result = fixture.rt.block_on(fixture.channel.send(value));
            let got = fixture.rt.block_on(async {
                let mut got = Vec::new();
                while let Ok(Ok(message)) =
                    tokio::time::timeout(Duration::ZERO, fixture.layer.receive(JOBS)).await
                {
                    got.push(message);
                }
                got
            });
            (expected, result, got)
        }
    };
    // Every error prints.
    if let Err(error) = &result {
        assert!(!error.to_string().is_empty());
    }
    match expected {
        Some(expected) => {
            assert!(result.is_ok(), "refused: {result:?}");
            assert_eq!(got, expected);
        }
        None => {
            assert!(
                matches!(result, Err(Error::InvalidMessage(_))),
                "accepted, or refused for another reason: {result:?} (sent {got:?})"
            );
            // "nothing is sent"
            assert!(got.is_empty(), "refused, yet sent {got:?}");
        }
    }
}

fuzz_target!(|input: Input<'_>| {
    let value = match input.raw.map(serde_json::from_slice::<Value>) {
        Some(Ok(value)) => value,
        _ => input.json.value(),
    };
    FIXTURE.with(|fixture| check(fixture, &input.via, value));
});
