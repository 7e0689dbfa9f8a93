//! The codec against bytes made by Python: each fixture is `msgpack.packb(dict)` (msgpack 1.x, as
//! channels_redis calls it), printed as hex by a Python script.

use super::*;
use serde_json::json;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex fixture"))
        .collect()
}

/// A stored member: 12 random bytes (here zeros) then the packed dict.
fn stored(packed_hex: &str) -> Vec<u8> {
    let mut out = vec![0u8; 12];
    out.extend(hex(packed_hex));
    out
}

fn decode(packed_hex: &str) -> Decoded {
    Codec::new(12)
        .decode(&stored(packed_hex), true)
        .expect("decodes")
}

fn json_message(value: serde_json::Value) -> LayerMessage {
    LayerMessage::json(value).expect("an object")
}

#[test]
fn a_typed_event_is_json() {
    // {"type": "chat.message", "message": "hi"}
    let d = decode("82a474797065ac636861742e6d657373616765a76d657373616765a26869");
    assert_eq!(d.channels, Channels::Key);
    assert_eq!(
        d.messages,
        vec![json_message(
            json!({"type": "chat.message", "message": "hi"})
        )]
    );
}

#[test]
fn channels_1_reply_dicts_are_socket_actions() {
    let cases = [
        // {"text": "hello 发送"}
        (
            "81a474657874ac68656c6c6f20e58f91e98081",
            vec![LayerMessage::text("hello 发送")],
        ),
        // {"bytes": b"\x00\x01\xff"}
        (
            "81a56279746573c4030001ff",
            vec![LayerMessage::Binary(Bytes::from_static(&[0, 1, 255]))],
        ),
        // {"close": True}
        ("81a5636c6f7365c3", vec![LayerMessage::Close(1000)]),
        // {"close": 4001}
        ("81a5636c6f7365cd0fa1", vec![LayerMessage::Close(4001)]),
        // {"accept": True}, {"accept": False}
        ("81a6616363657074c3", vec![LayerMessage::Accept]),
        ("81a6616363657074c2", vec![LayerMessage::Reject]),
        // {"text": "bye", "close": True}: two actions, in Channels' order
        (
            "82a474657874a3627965a5636c6f7365c3",
            vec![LayerMessage::text("bye"), LayerMessage::Close(1000)],
        ),
    ];
    for (packed, expected) in cases {
        assert_eq!(decode(packed).messages, expected, "{packed}");
    }
    // A reader of a normal channel takes one message at a time: the pair stays one dict.
    let d = Codec::new(12)
        .decode(&stored("82a474657874a3627965a5636c6f7365c3"), false)
        .unwrap();
    assert_eq!(
        d.messages,
        vec![json_message(json!({"text": "bye", "close": true}))]
    );
}

#[test]
fn asgi_channel_names_the_destination() {
    // {"text": "x", "__asgi_channel__": "specific.abc!def"}: channel_layer.send to a reply channel
    let d = decode(
        "82a474657874a178b05f5f617367695f6368616e6e656c5f5fb073706563696669632e61626321646566",
    );
    assert_eq!(d.channels, Channels::Named(vec!["specific.abc!def".into()]));
    assert_eq!(d.messages, vec![LayerMessage::text("x")]);
    // group_send: {"type": "chat.message", "message": "m", "__asgi_channel__": [two channels]}
    let d = decode(
        "83a474797065ac636861742e6d657373616765a76d657373616765a16db05f5f617367695f6368616e6e656c5f5f92ae73706563696669632e6162632131ae73706563696669632e6162632132",
    );
    assert_eq!(
        d.channels,
        Channels::Named(vec!["specific.abc!1".into(), "specific.abc!2".into()])
    );
    assert_eq!(
        d.messages,
        vec![json_message(
            json!({"type": "chat.message", "message": "m"})
        )]
    );
}

#[test]
fn python_values_map_to_json() {
    // {"type": "job", "n": 1, "big": 2**40, "neg": -5, "f": 1.5, "none": None, "ok": True,
    //  "list": [1, "a", [2]], "map": {"k": "v"}, "tuple": (1, 2), "raw": b"ab"}
    let d = decode(
        "8ba474797065a36a6f62a16e01a3626967cf0000010000000000a36e6567fba166cb3ff8000000000000a46e6f6e65c0a26f6bc3a46c6973749301a1619102a36d617081a16ba176a57475706c65920102a3726177c4026162",
    );
    assert_eq!(
        d.messages,
        vec![json_message(json!({
            "type": "job", "n": 1, "big": 1_099_511_627_776_u64, "neg": -5, "f": 1.5, "none": null,
            "ok": true, "list": [1, "a", [2]], "map": {"k": "v"}, "tuple": [1, 2], "raw": [97, 98],
        }))]
    );
}

#[test]
fn what_we_frame_python_reads_back_as_the_same_dict() {
    // The exact bytes Python packs for the same dict: our encoding is byte-for-byte msgpack.packb's for
    // these (smallest int forms, str for text, bin for bytes), after our random prefix.
    let codec = Codec::new(12);
    let cases = [
        (
            LayerMessage::text("hello 发送"),
            "81a474657874ac68656c6c6f20e58f91e98081",
        ),
        (
            LayerMessage::Binary(Bytes::from_static(&[0, 1, 255])),
            "81a56279746573c4030001ff",
        ),
        (LayerMessage::Close(1000), "81a5636c6f7365c3"),
        (LayerMessage::Close(4001), "81a5636c6f7365cd0fa1"),
        (LayerMessage::Accept, "81a6616363657074c3"),
        (LayerMessage::Reject, "81a6616363657074c2"),
    ];
    for (message, python) in cases {
        let framed = codec.frame(&Codec::body(&message), Target::Key);
        assert_eq!(&framed[12..], &hex(python)[..], "{message:?}");
    }
    let framed = codec.frame(
        &Codec::body(&LayerMessage::text("x")),
        Target::One("specific.abc!def"),
    );
    assert_eq!(
        &framed[12..],
        &hex(
            "82a474657874a178b05f5f617367695f6368616e6e656c5f5fb073706563696669632e61626321646566"
        )[..]
    );
}

#[test]
fn every_variant_round_trips() {
    let codec = Codec::new(12);
    let members: Vec<Arc<str>> = vec!["specific.a!1".into(), "specific.a!2".into()];
    let messages = [
        LayerMessage::Accept,
        LayerMessage::Reject,
        LayerMessage::text("发送数据"),
        LayerMessage::Binary(Bytes::from_static(&[0, 1, 255])),
        LayerMessage::Close(4001),
        LayerMessage::Http(Arc::new(HttpResponse::html("<p>hi</p>").header("x-a", "b"))),
        json_message(json!({"type": "chat.message", "text": "x", "n": [1, 2.5, null]})),
    ];
    for message in messages {
        let body = Codec::body(&message);
        let d = codec
            .decode(&codec.frame(&body, Target::Key), true)
            .unwrap();
        assert_eq!(
            (d.channels, d.messages),
            (Channels::Key, vec![message.clone()])
        );
        let d = codec
            .decode(&codec.frame(&body, Target::Many(&members)), true)
            .unwrap();
        assert_eq!(
            d.channels,
            Channels::Named(vec!["specific.a!1".into(), "specific.a!2".into()])
        );
        assert_eq!(d.messages, vec![message]);
    }
}

#[test]
fn the_random_prefix_makes_each_frame_unique() {
    let codec = Codec::new(12);
    let body = Codec::body(&LayerMessage::text("same"));
    assert_ne!(
        codec.frame(&body, Target::Key),
        codec.frame(&body, Target::Key)
    );
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let codec = Codec::new(12);
    let mut deep = vec![0u8; 12];
    deep.extend(std::iter::repeat_n(0x91, 100_000)); // [[[[...
    for bad in [
        vec![0u8; 5],                                     // shorter than the prefix
        vec![0u8; 12],                                    // nothing after it
        stored("c1"),                                     // reserved marker
        stored("92a161a162"),                             // a list, not a dict
        stored("8101a161"),                               // an int key
        stored("81a5636c6f7365"),                         // truncated
        stored("81b05f5f617367695f6368616e6e656c5f5f01"), // __asgi_channel__: 1
        deep,
    ] {
        assert!(codec.decode(&bad, true).is_err(), "{bad:?}");
    }
}

#[test]
fn odd_reply_dicts_travel_as_json() {
    let codec = Codec::new(0);
    // {"text": 5} is not a text frame; it stays a dict for the consumer to judge.
    let mut buf = ByteBuf::new();
    let _ = rmp::encode::write_map_len(&mut buf, 1);
    put_str(&mut buf, "text");
    let _ = rmp::encode::write_uint(&mut buf, 5);
    let d = codec.decode(buf.as_slice(), true).unwrap();
    assert_eq!(d.messages, vec![json_message(json!({"text": 5}))]);
}
