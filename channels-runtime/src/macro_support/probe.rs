//! Looking a consumer's parameter up by name, at the type level: how `channel_routing!` checks that a
//! `path()` converter's value suits the parameter that takes it (`<int:id>` needs an integer).

use std::marker::PhantomData;

/// One character of a parameter's name, as a type: a name is a tuple of them, so the compiler can look
/// a consumer's parameter up by name ([`ParamType`]).
pub struct Ch<const C: char>;

/// The type of the consumer's parameter named `N` (a tuple of [`Ch`]), implemented by `#[consumer]`
/// for each parameter, so `channel_routing!` can check that a capture's converter suits it.
pub trait ParamType<N> {
    /// The parameter's type.
    type Type;
}

/// Looks up the parameter `N` of consumer `C`: through [`ViaParam`] when `C` has one, else through
/// [`ViaFallback`] (a missing parameter is reported by the capture checks, not again here).
pub struct Probe<C, N>(PhantomData<(C, N)>);

impl<C, N> Probe<C, N> {
    /// A probe.
    pub const fn new() -> Self {
        Probe(PhantomData)
    }
}

impl<C, N> Default for Probe<C, N> {
    fn default() -> Self {
        Probe::new()
    }
}

/// See [`Probe`].
pub trait ViaParam {
    /// The parameter's type.
    type Type;
    /// The parameter's type, as a value.
    fn param_type(&self) -> PhantomData<Self::Type>;
}

impl<C: ParamType<N>, N> ViaParam for Probe<C, N> {
    type Type = C::Type;
    fn param_type(&self) -> PhantomData<C::Type> {
        PhantomData
    }
}

/// See [`Probe`].
pub trait ViaFallback {
    /// A type every converter accepts.
    fn param_type(&self) -> PhantomData<u64>;
}

impl<C, N> ViaFallback for &Probe<C, N> {
    fn param_type(&self) -> PhantomData<u64> {
        PhantomData
    }
}

/// A type Django's `int` converter's value fits: an integer.
#[diagnostic::on_unimplemented(
    message = "a path's `<int:...>` capture is an integer, but the consumer takes it as `{Self}`",
    label = "`<int:...>` captures digits, which Django's `int` converter hands over as an integer",
    note = "take the parameter as an integer type (`u32`, `i64`, `usize`, ...); for the digits as text, use `<str:...>`, `<slug:...>` or a `re_path` capture"
)]
pub trait IntCapture {}

macro_rules! int_captures {
    ($($t:ty)*) => { $(impl IntCapture for $t {})* };
}
int_captures!(u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize);

/// Checks that a parameter taking an `<int:...>` capture is an integer.
pub fn int_converter<T: IntCapture>(_: PhantomData<T>) {}
