//! A macro argument that may be given once (serde's `Attr<T>`): the second one is an error pointing at
//! it, never silently taking over.

use quote::ToTokens;

use crate::ctxt::Ctxt;

/// One optional argument of a macro invocation, such as `atomic` or `path = r"..."`.
pub struct Attr<T> {
    /// How the argument is written, for the error: "`path`", "the table's name".
    what: &'static str,
    /// What to do about a repeat.
    help: &'static str,
    value: Option<T>,
}

impl<T> Attr<T> {
    /// An argument not given yet.
    pub fn none(what: &'static str, help: &'static str) -> Self {
        Attr {
            what,
            help,
            value: None,
        }
    }

    /// Sets the argument written as `tokens`; if it was set already, records an error at `tokens` and
    /// keeps the first value.
    pub fn set(&mut self, cx: &mut Ctxt, tokens: impl ToTokens, value: T) {
        if self.value.is_some() {
            cx.spanned(
                tokens,
                format!("{} is given twice\nhelp: {}", self.what, self.help),
            );
        } else {
            self.value = Some(value);
        }
    }

    /// The value, if the argument was given.
    pub fn get(self) -> Option<T> {
        self.value
    }
}
