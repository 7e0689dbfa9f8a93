//! [`Session`]: per-connection storage, Channels' `channel_session`.

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};

/// A key-value store that lives as long as one connection and is shared by all its consumers
/// (Channels' `@channel_session`: `message.channel_session["room"] = room`).
///
/// Every message of a connection carries the same session, so a value set in the connect consumer is there
/// in the receive and disconnect consumers. Cloning is cheap and shares the store.
///
/// ```
/// use channels_runtime::Session;
/// use serde_json::json;
/// let session = Session::default();
/// session.set("room", json!("lobby"));
/// assert_eq!(session.get("room"), Some(json!("lobby")));
/// assert_eq!(session.get_str("room").as_deref(), Some("lobby"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Session {
    values: Arc<Mutex<Map<String, Value>>>,
}

impl Session {
    fn lock(&self) -> MutexGuard<'_, Map<String, Value>> {
        // Each critical section is one map operation; a poisoned map is still consistent.
        self.values.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value under `key`, cloned.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.lock().get(key).cloned()
    }

    /// The string under `key`, if it is one.
    pub fn get_str(&self, key: &str) -> Option<String> {
        self.lock()
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// Stores `value` under `key`, returning the old value.
    pub fn set(&self, key: impl Into<String>, value: Value) -> Option<Value> {
        self.lock().insert(key.into(), value)
    }

    /// Removes `key`, returning its value.
    pub fn remove(&self, key: &str) -> Option<Value> {
        self.lock().remove(key)
    }
}
