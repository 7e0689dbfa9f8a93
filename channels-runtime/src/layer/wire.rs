//! A compact binary encoding of [`LayerMessage`], for layers that cross process boundaries.
//!
//! One tag byte, then the payload: text and bytes travel as they are (no JSON escaping, no base64), so a
//! broadcast is encoded once per send, whatever the number of receiving processes.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::LayerMessage;
use crate::HttpResponse;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed layer message: {0}")]
pub(crate) struct WireError(&'static str);

pub(crate) fn encode(message: &LayerMessage) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(message, &mut out);
    out
}

pub(crate) fn encode_into(message: &LayerMessage, out: &mut Vec<u8>) {
    match message {
        LayerMessage::Accept => out.push(b'A'),
        LayerMessage::Reject => out.push(b'R'),
        LayerMessage::Text(text) => {
            out.push(b'T');
            out.extend_from_slice(text.as_bytes());
        }
        LayerMessage::Binary(bytes) => {
            out.push(b'B');
            out.extend_from_slice(bytes);
        }
        LayerMessage::Close(code) => {
            out.push(b'C');
            out.extend_from_slice(&code.to_be_bytes());
        }
        LayerMessage::Http(response) => {
            out.push(b'H');
            out.extend_from_slice(&response.status.to_be_bytes());
            out.extend_from_slice(&(response.headers.len() as u32).to_be_bytes());
            for (name, value) in &response.headers {
                put_str(out, name);
                put_str(out, value);
            }
            out.extend_from_slice(&response.body);
        }
        LayerMessage::Json(map) => {
            out.push(b'J');
            // Serializing a map of JSON values cannot fail.
            if serde_json::to_writer(&mut *out, &**map).is_err() {
                out.truncate(out.len().saturating_sub(1));
                out.extend_from_slice(b"J{}");
            }
        }
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.0.len() < n {
            return Err(WireError("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> Result<String, WireError> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| WireError("invalid UTF-8 in a string"))
    }
}

pub(crate) fn decode(bytes: &[u8]) -> Result<LayerMessage, WireError> {
    let (&tag, rest) = bytes.split_first().ok_or(WireError("empty"))?;
    let mut reader = Reader(rest);
    Ok(match tag {
        b'A' => LayerMessage::Accept,
        b'R' => LayerMessage::Reject,
        b'T' => {
            let text = std::str::from_utf8(rest).map_err(|_| WireError("invalid UTF-8 in text"))?;
            LayerMessage::Text(text.into())
        }
        b'B' => LayerMessage::Binary(Bytes::copy_from_slice(rest)),
        b'C' => LayerMessage::Close(reader.u16()?),
        b'H' => {
            let status = reader.u16()?;
            let count = reader.u32()? as usize;
            let mut headers = Vec::with_capacity(count.min(64));
            for _ in 0..count {
                headers.push((reader.string()?, reader.string()?));
            }
            LayerMessage::Http(Arc::new(HttpResponse {
                status,
                headers,
                body: Bytes::copy_from_slice(reader.0),
            }))
        }
        b'J' => {
            let map: Map<String, Value> =
                serde_json::from_slice(rest).map_err(|_| WireError("invalid JSON"))?;
            LayerMessage::Json(Arc::new(map))
        }
        _ => return Err(WireError("unknown tag")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_variant_round_trips() {
        let messages = [
            LayerMessage::Accept,
            LayerMessage::Reject,
            LayerMessage::text("发送数据"),
            LayerMessage::Binary(Bytes::from_static(&[0, 1, 255])),
            LayerMessage::Close(4001),
            LayerMessage::Http(Arc::new(HttpResponse::html("<p>hi</p>").header("x-a", "b"))),
            LayerMessage::json(json!({"type": "chat.message", "text": "x"})).unwrap(),
        ];
        for message in messages {
            assert_eq!(decode(&encode(&message)).unwrap(), message);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"Z",
            b"C\x01",
            b"T\xff",
            b"H\x00",
            b"J{",
            b"H\x00\xc8\x00\x00\x00\x09",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }
}
