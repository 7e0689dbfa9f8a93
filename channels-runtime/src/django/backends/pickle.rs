//! Django's `RedisSerializer` values (a pickled session dict) as JSON. Decoding never runs Python code:
//! objects of classes other than the builtins (a `datetime` a view stored, say) become `null`.

use serde_json::{Map, Value};
use serde_pickle::{DeOptions, HashableValue, Value as Pickled};

/// `RedisSerializer.loads(data)` for a session: `Some(dict)` when `data` is a pickled dict, `None` when
/// it is an integer (Django stores ints unpickled), another type, or not a pickle.
pub(crate) fn session_from_pickle(data: &[u8]) -> Option<Map<String, Value>> {
    if std::str::from_utf8(data).is_ok_and(|text| text.trim().parse::<i64>().is_ok()) {
        return None;
    }
    let options = DeOptions::new()
        .replace_unresolved_globals()
        .replace_recursive_structures();
    match serde_pickle::value_from_slice(data, options) {
        Ok(Pickled::Dict(entries)) => Some(
            entries
                .into_iter()
                .map(|(key, value)| (key_to_string(key), to_json(value)))
                .collect(),
        ),
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(%error, "a cached Django session is not a pickle this module reads");
            None
        }
    }
}

fn to_json(value: Pickled) -> Value {
    match value {
        Pickled::None => Value::Null,
        Pickled::Bool(b) => Value::Bool(b),
        Pickled::I64(i) => Value::from(i),
        // Beyond i64: its decimal digits, as a string, rather than a lossy float.
        Pickled::Int(big) => Value::String(big.to_string()),
        Pickled::F64(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        Pickled::Bytes(bytes) => Value::Array(bytes.into_iter().map(Value::from).collect()),
        Pickled::String(s) => Value::String(s),
        Pickled::List(items) | Pickled::Tuple(items) => {
            Value::Array(items.into_iter().map(to_json).collect())
        }
        Pickled::Set(items) | Pickled::FrozenSet(items) => Value::Array(
            items
                .into_iter()
                .map(|item| to_json(item.into_value()))
                .collect(),
        ),
        Pickled::Dict(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(key, value)| (key_to_string(key), to_json(value)))
                .collect(),
        ),
    }
}

/// A dict key as JSON needs it: strings as they are, other keys as `json.dumps` would write them.
fn key_to_string(key: HashableValue) -> String {
    match key {
        HashableValue::String(s) => s,
        other => match to_json(other.into_value()) {
            Value::String(s) => s,
            json => json.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with Python 3.11: pickle.dumps({"_auth_user_id": "7", "n": 3, "when": datetime(2020, 1, 1)}, 5)
    const SESSION: &[u8] = b"\x80\x05\x95O\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\r_auth_user_id\x94\x8c\x017\x94\x8c\x01n\x94K\x03\x8c\x04when\x94\x8c\x08datetime\x94\x8c\x08datetime\x94\x93\x94C\n\x07\xe4\x01\x01\x00\x00\x00\x00\x00\x00\x94\x85\x94R\x94u.";

    #[test]
    fn a_pickled_session_dict_reads_as_json_with_unknown_objects_null() {
        let session = session_from_pickle(SESSION).expect("a dict");
        assert_eq!(session["_auth_user_id"], "7");
        assert_eq!(session["n"], 3);
        assert_eq!(session["when"], Value::Null);
    }

    #[test]
    fn integers_and_garbage_are_no_session() {
        assert_eq!(session_from_pickle(b"42"), None);
        assert_eq!(session_from_pickle(b"not a pickle"), None);
        assert_eq!(session_from_pickle(b"\x80\x05K\x03."), None);
    }
}
