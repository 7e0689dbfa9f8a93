//! Path captures: the text a route's pattern captured ([`PathParams`]) and how a consumer parameter is
//! parsed from it ([`FromCapture`]).

use std::str::FromStr;
use std::sync::Arc;

/// A value that can be parsed from a path capture: any `FromStr` type that can be cloned and sent.
///
/// Its diagnostic is word for word `ConsumerParam`'s (what `#[consumer]` asks of a parameter): a type
/// that is neither fails both bounds at the same parameter, and the compiler shows identical errors once.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be a consumer parameter: it is neither a path capture nor an extractor",
    label = "no path capture and no extractor",
    note = "a path capture is a `String`, an integer or a type of your own that implements `std::str::FromStr` (and is `Clone + Send + Sync + 'static`); an extractor is `Session`, `Multiplexer`, or `Json<T>` where `T: serde::Deserialize` (`#[derive(serde::Deserialize)]`)"
)]
pub trait FromCapture: Sized + Clone + Send + Sync + 'static {
    /// Parses the captured text; `None` makes the route not match.
    fn from_capture(text: &str) -> Option<Self>;
}

impl<T: FromStr + Clone + Send + Sync + 'static> FromCapture for T {
    fn from_capture(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// The named captures of a matched path, as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams {
    values: Vec<(Arc<str>, String)>,
}

impl PathParams {
    /// The text captured under `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The capture `name` parsed as `T`; `None` if absent or unparsable.
    pub fn parse<T: FromCapture>(&self, name: &str) -> Option<T> {
        T::from_capture(self.get(name)?)
    }

    /// Every capture, in the order they were set (an include's prefix first).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(n, v)| (&**n, v.as_str()))
    }

    /// Sets `name` to `value`, replacing an earlier capture of that name (an inner table's captures win
    /// over its include's prefix).
    pub(super) fn set(&mut self, name: Arc<str>, value: &str) {
        self.values.retain(|(n, _)| *n != name);
        self.values.push((name, value.to_owned()));
    }
}
