//! channels_redis's message framing: `random prefix + msgpack(dict)`, and its mapping to [`LayerMessage`].
//!
//! The mapping itself (what each variant becomes, what a Django consumer sees) is documented on the
//! parent module; this file is its one implementation, tested against bytes made by Python's
//! `msgpack.packb`.

use std::sync::Arc;

use bytes::Bytes;
use rmp::encode::ByteBuf;
use rmpv::Value as Msgpack;
use serde_json::{Map, Number, Value};

use super::crypt::Crypter;
use crate::HttpResponse;
use crate::layer::LayerMessage;

/// The key channels_redis adds to a message on a shared (process) key: the destination channel, a
/// string for `send`, a list for `group_send`.
pub(super) const ASGI_CHANNEL: &str = "__asgi_channel__";

/// Deepest nesting of maps and lists accepted in a message (a deeper one is refused, not a stack
/// overflow).
const MAX_DEPTH: usize = 64;

/// Why bytes read from Redis could not be made into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CodecError {
    /// Shorter than the random prefix.
    #[error("message shorter than its {0}-byte random prefix")]
    Truncated(usize),
    /// Not msgpack, or nested too deep.
    #[error("not a msgpack value: {0}")]
    Msgpack(String),
    /// Valid msgpack, but not a dict with string keys (what Channels sends).
    #[error("not a Channels message: {0}")]
    Shape(&'static str),
    /// With `symmetric_encryption_keys`: no key opens it (another key, tampered, older than expiry
    /// plus 10 s, or not encrypted).
    #[error("message could not be decrypted with any of the symmetric_encryption_keys")]
    Decrypt,
}

/// Where a message on a Redis key is going: nowhere named (a normal channel's own key), one
/// process-local channel (`send`), or a process's members of a group (`group_send`).
#[derive(Debug, Clone, Copy)]
pub(super) enum Target<'a> {
    /// A normal channel: the key is the channel; no `__asgi_channel__`.
    Key,
    /// One process-local channel.
    One(&'a str),
    /// Several channels sharing one key.
    Many(&'a [Arc<str>]),
}

/// The channels a decoded message is for, from its `__asgi_channel__`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Channels {
    /// No `__asgi_channel__`: the message is for the key's own (normal) channel.
    Key,
    /// These channels (one for `send`, several for `group_send`).
    Named(Vec<String>),
}

/// One message read from Redis.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Decoded {
    /// Who it is for.
    pub(super) channels: Channels,
    /// What it says: usually one message; a Channels 1 dict such as `{"text": "bye", "close": True}`
    /// stands for two (the text, then the close), in Channels' order (accept, data, close).
    pub(super) messages: Vec<LayerMessage>,
}

/// A message encoded once, for every key it goes to: the dict's entries without `__asgi_channel__`.
#[derive(Debug, Clone)]
pub(super) struct Body {
    entries: Vec<u8>,
    count: u32,
}

/// Frames messages as channels_redis's `MsgPackSerializer` does.
#[derive(Debug, Clone)]
pub(super) struct Codec {
    random_prefix_length: usize,
    crypter: Option<Crypter>,
}

impl Codec {
    pub(super) fn new(random_prefix_length: usize) -> Self {
        Codec {
            random_prefix_length,
            crypter: None,
        }
    }

    /// Encrypts and decrypts with these keys (channels_redis's `symmetric_encryption_keys`); no keys,
    /// no encryption. `expiry_secs`: the layer's expiry, which bounds a token's age.
    pub(super) fn with_keys(mut self, keys: &[String], expiry_secs: u64) -> Self {
        self.crypter = Crypter::new(keys, expiry_secs);
        self
    }

    /// Encodes the parts of `message` that every destination shares.
    pub(super) fn body(message: &LayerMessage) -> Body {
        let mut buf = ByteBuf::new();
        let count = write_entries(&mut buf, message);
        Body {
            entries: buf.into_vec(),
            count,
        }
    }

    /// The bytes stored in Redis for `body` going to `target`: a fresh random prefix, then the msgpack
    /// dict. The random prefix makes every stored member unique.
    pub(super) fn frame(&self, body: &Body, target: Target<'_>) -> Vec<u8> {
        let extra = u32::from(!matches!(target, Target::Key));
        let mut dict = ByteBuf::with_capacity(body.entries.len() + 64);
        let Ok(_) = rmp::encode::write_map_len(&mut dict, body.count + extra);
        dict.as_mut().extend_from_slice(&body.entries);
        match target {
            Target::Key => {}
            Target::One(channel) => {
                put_str(&mut dict, ASGI_CHANNEL);
                put_str(&mut dict, channel);
            }
            Target::Many(channels) => {
                put_str(&mut dict, ASGI_CHANNEL);
                let len = u32::try_from(channels.len()).unwrap_or(u32::MAX);
                let Ok(_) = rmp::encode::write_array_len(&mut dict, len);
                for channel in channels.iter().take(len as usize) {
                    put_str(&mut dict, channel);
                }
            }
        }
        let mut dict = dict.into_vec();
        if let Some(crypter) = &self.crypter {
            dict = crypter.encrypt(&dict);
        }
        let mut out = Vec::with_capacity(self.random_prefix_length + dict.len());
        out.resize(self.random_prefix_length, 0);
        rand::Rng::fill(&mut rand::rng(), &mut out[..]);
        out.extend_from_slice(&dict);
        out
    }

    /// Reads bytes stored by channels_redis (or by [`Codec::frame`]). With `split`, a Channels 1 dict
    /// that stands for several socket actions comes out as those actions; without it (a normal channel's
    /// reader takes one message at a time), it comes out as one JSON message.
    pub(super) fn decode(&self, stored: &[u8], split: bool) -> Result<Decoded, CodecError> {
        let payload = stored
            .get(self.random_prefix_length..)
            .ok_or(CodecError::Truncated(self.random_prefix_length))?;
        let plain;
        let payload = match &self.crypter {
            Some(crypter) => {
                plain = crypter.decrypt(payload).ok_or(CodecError::Decrypt)?;
                plain.as_slice()
            }
            None => payload,
        };
        // The top-level dict is read by hand: `__asgi_channel__` (a group message's list of members)
        // goes straight to strings, without a msgpack value per name.
        let mut reader = payload;
        let len = match reader.first() {
            Some(0x80..=0x8f | 0xde | 0xdf) => rmp::decode::read_map_len(&mut reader)
                .map_err(|e| CodecError::Msgpack(e.to_string()))?,
            Some(_) => return Err(CodecError::Shape("not a dict")),
            None => return Err(CodecError::Msgpack("no bytes".to_owned())),
        };
        let mut dict = Vec::with_capacity((len as usize).min(reader.len()));
        let mut channels = Channels::Key;
        for _ in 0..len {
            let key = read_str(&mut reader).map_err(|error| match error {
                CodecError::Shape(_) => CodecError::Shape("a key is not a string"),
                other => other,
            })?;
            if key == ASGI_CHANNEL {
                channels = asgi_channels(&mut reader)?;
            } else {
                let value = rmpv::decode::read_value_with_max_depth(&mut reader, MAX_DEPTH - 1)
                    .map_err(|e| CodecError::Msgpack(e.to_string()))?;
                dict.push((key.to_owned(), value));
            }
        }
        Ok(Decoded {
            channels,
            messages: from_dict(dict, split)?,
        })
    }
}

fn put_str(buf: &mut ByteBuf, s: &str) {
    let Ok(()) = rmp::encode::write_str(buf, s);
}

fn put_bin(buf: &mut ByteBuf, b: &[u8]) {
    let Ok(()) = rmp::encode::write_bin(buf, b);
}

/// Writes the dict entries of `message`; returns how many.
fn write_entries(buf: &mut ByteBuf, message: &LayerMessage) -> u32 {
    match message {
        LayerMessage::Accept | LayerMessage::Reject => {
            put_str(buf, "accept");
            let Ok(()) = rmp::encode::write_bool(buf, matches!(message, LayerMessage::Accept));
            1
        }
        LayerMessage::Text(text) => {
            put_str(buf, "text");
            put_str(buf, text);
            1
        }
        LayerMessage::Binary(bytes) => {
            put_str(buf, "bytes");
            put_bin(buf, bytes);
            1
        }
        LayerMessage::Close(code) => {
            put_str(buf, "close");
            if *code == 1000 {
                let Ok(()) = rmp::encode::write_bool(buf, true);
            } else {
                let Ok(_) = rmp::encode::write_uint(buf, u64::from(*code));
            }
            1
        }
        LayerMessage::Http(response) => {
            put_str(buf, "status");
            let Ok(_) = rmp::encode::write_uint(buf, u64::from(response.status));
            put_str(buf, "headers");
            let len = u32::try_from(response.headers.len()).unwrap_or(u32::MAX);
            let Ok(_) = rmp::encode::write_array_len(buf, len);
            for (name, value) in response.headers.iter().take(len as usize) {
                let Ok(_) = rmp::encode::write_array_len(buf, 2);
                put_str(buf, name);
                put_str(buf, value);
            }
            put_str(buf, "content");
            put_bin(buf, &response.body);
            3
        }
        LayerMessage::Json(map) => {
            for (key, value) in map.iter() {
                put_str(buf, key);
                write_json(buf, value);
            }
            u32::try_from(map.len()).unwrap_or(u32::MAX)
        }
    }
}

fn write_json(buf: &mut ByteBuf, value: &Value) {
    match value {
        Value::Null => {
            let Ok(()) = rmp::encode::write_nil(buf);
        }
        Value::Bool(b) => {
            let Ok(()) = rmp::encode::write_bool(buf, *b);
        }
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let Ok(_) = rmp::encode::write_sint(buf, i);
            } else if let Some(u) = n.as_u64() {
                let Ok(_) = rmp::encode::write_uint(buf, u);
            } else {
                let Ok(()) = rmp::encode::write_f64(buf, n.as_f64().unwrap_or(f64::NAN));
            }
        }
        Value::String(s) => put_str(buf, s),
        Value::Array(items) => {
            let len = u32::try_from(items.len()).unwrap_or(u32::MAX);
            let Ok(_) = rmp::encode::write_array_len(buf, len);
            for item in items.iter().take(len as usize) {
                write_json(buf, item);
            }
        }
        Value::Object(map) => {
            let len = u32::try_from(map.len()).unwrap_or(u32::MAX);
            let Ok(_) = rmp::encode::write_map_len(buf, len);
            for (key, item) in map.iter().take(len as usize) {
                put_str(buf, key);
                write_json(buf, item);
            }
        }
    }
}

/// Reads one msgpack string at the start of `reader`, borrowed.
fn read_str<'a>(reader: &mut &'a [u8]) -> Result<&'a str, CodecError> {
    if !matches!(reader.first(), Some(0xa0..=0xbf | 0xd9..=0xdb)) {
        return Err(CodecError::Shape("not a string"));
    }
    let len = rmp::decode::read_str_len(reader).map_err(|e| CodecError::Msgpack(e.to_string()))?;
    let (bytes, rest) = reader
        .split_at_checked(len as usize)
        .ok_or_else(|| CodecError::Msgpack("a string is cut short".to_owned()))?;
    *reader = rest;
    std::str::from_utf8(bytes).map_err(|_| CodecError::Shape("a string is not UTF-8"))
}

/// `__asgi_channel__`: one channel name (`send`) or a list of them (`group_send`).
fn asgi_channels(reader: &mut &[u8]) -> Result<Channels, CodecError> {
    const BAD: CodecError =
        CodecError::Shape("__asgi_channel__ is not a channel name or a list of them");
    let bad = |error: CodecError| match error {
        CodecError::Shape(_) => BAD,
        other => other,
    };
    if !matches!(reader.first(), Some(0x90..=0x9f | 0xdc | 0xdd)) {
        return Ok(Channels::Named(vec![
            read_str(reader).map_err(bad)?.to_owned(),
        ]));
    }
    let len =
        rmp::decode::read_array_len(reader).map_err(|e| CodecError::Msgpack(e.to_string()))?;
    let mut names = Vec::with_capacity((len as usize).min(reader.len()));
    for _ in 0..len {
        names.push(read_str(reader).map_err(bad)?.to_owned());
    }
    Ok(Channels::Named(names))
}

/// msgpack to JSON: bytes become a list of numbers 0-255 (as the runtime's `bytes` keys take them),
/// floats that JSON can't hold (NaN, infinities) become `null`.
fn to_json(value: Msgpack, depth: usize) -> Result<Value, CodecError> {
    let depth = depth
        .checked_sub(1)
        .ok_or(CodecError::Shape("nested too deep"))?;
    Ok(match value {
        Msgpack::Nil => Value::Null,
        Msgpack::Boolean(b) => Value::Bool(b),
        Msgpack::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            (None, None) => Value::Null,
        },
        Msgpack::F32(f) => Number::from_f64(f64::from(f)).map_or(Value::Null, Value::Number),
        Msgpack::F64(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        Msgpack::String(s) => Value::String(
            s.into_str()
                .ok_or(CodecError::Shape("a string is not UTF-8"))?,
        ),
        Msgpack::Binary(bytes) => Value::Array(bytes.into_iter().map(Value::from).collect()),
        Msgpack::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| to_json(item, depth))
                .collect::<Result<_, _>>()?,
        ),
        Msgpack::Map(entries) => {
            let mut map = Map::with_capacity(entries.len());
            for (key, item) in entries {
                let key = match key {
                    Msgpack::String(s) => s
                        .into_str()
                        .ok_or(CodecError::Shape("a key is not UTF-8"))?,
                    Msgpack::Integer(i) => i.to_string(),
                    _ => return Err(CodecError::Shape("a nested key is not a string")),
                };
                map.insert(key, to_json(item, depth)?);
            }
            Value::Object(map)
        }
        Msgpack::Ext(..) => {
            return Err(CodecError::Shape(
                "msgpack extension types are not used by Channels",
            ));
        }
    })
}

/// A dict (without `__asgi_channel__`) as layer messages: the Channels 1 reply forms become socket
/// actions, an HTTP response dict an [`LayerMessage::Http`], anything else (typed events above all) JSON.
/// Payloads are moved, never converted through JSON (a `bytes` value stays one buffer).
fn from_dict(dict: Vec<(String, Msgpack)>, split: bool) -> Result<Vec<LayerMessage>, CodecError> {
    if !dict.iter().any(|(key, _)| key == "type") {
        if is_reply(&dict) {
            if let Some(actions) = reply_actions(&dict)
                && (split || actions.len() == 1)
            {
                return Ok(actions);
            }
        } else if let Some(response) = http_response(&dict) {
            return Ok(vec![response]);
        }
    }
    let mut map = Map::with_capacity(dict.len());
    for (key, value) in dict {
        map.insert(key, to_json(value, MAX_DEPTH)?);
    }
    Ok(vec![LayerMessage::Json(Arc::new(map))])
}

fn is_reply(dict: &[(String, Msgpack)]) -> bool {
    !dict.is_empty()
        && dict
            .iter()
            .all(|(key, _)| matches!(key.as_str(), "accept" | "text" | "bytes" | "close"))
}

/// `{"accept"?, "text" | "bytes"?, "close"?}`, as the socket actions they stand for, in Channels' order
/// (accept, data, close); `None` when a value has the wrong type (the dict then travels as JSON).
fn reply_actions(dict: &[(String, Msgpack)]) -> Option<Vec<LayerMessage>> {
    let mut accept = None;
    let mut data = None;
    let mut close = None;
    for (key, value) in dict {
        match (key.as_str(), value) {
            ("accept", Msgpack::Boolean(b)) => accept = Some(*b),
            ("text", Msgpack::String(s)) if data.is_none() => {
                data = Some(LayerMessage::Text(s.as_str()?.to_owned().into()));
            }
            ("bytes", Msgpack::Binary(b)) if data.is_none() => {
                data = Some(LayerMessage::Binary(Bytes::copy_from_slice(b)));
            }
            ("text" | "bytes", Msgpack::Nil) => {}
            ("close", Msgpack::Boolean(true)) => close = Some(1000),
            ("close", Msgpack::Boolean(false)) => {}
            ("close", Msgpack::Integer(code)) => {
                close = Some(code.as_u64().and_then(|c| u16::try_from(c).ok())?);
            }
            _ => return None,
        }
    }
    let mut out = Vec::with_capacity(1);
    match accept {
        Some(true) => out.push(LayerMessage::Accept),
        Some(false) if data.is_none() => out.push(LayerMessage::Reject),
        Some(false) => return None,
        None => {}
    }
    out.extend(data);
    out.extend(close.map(LayerMessage::Close));
    (!out.is_empty()).then_some(out)
}

/// `{"status": int, "headers": [[name, value], ...], "content": bytes}`, as [`Codec::body`] writes it.
fn http_response(dict: &[(String, Msgpack)]) -> Option<LayerMessage> {
    let [(k1, status), (k2, headers), (k3, content)] = dict else {
        return None;
    };
    if (k1.as_str(), k2.as_str(), k3.as_str()) != ("status", "headers", "content") {
        return None;
    }
    let status = status.as_u64().and_then(|s| u16::try_from(s).ok())?;
    let Msgpack::Binary(body) = content else {
        return None;
    };
    let headers = headers
        .as_array()?
        .iter()
        .map(|pair| match pair.as_array()?.as_slice() {
            [name, value] => Some((name.as_str()?.to_owned(), value.as_str()?.to_owned())),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    let mut response = HttpResponse::new(status, Bytes::copy_from_slice(body));
    response.headers = headers;
    Some(LayerMessage::Http(Arc::new(response)))
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
