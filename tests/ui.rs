//! Compile-time checks of `channel_routing!`, `#[consumer]` and `group!`: every case under
//! `tests/ui/<topic>/fail/` must fail with the `.stderr` beside it; every case under `pass/` must compile.
//!
//! After changing a message: `TRYBUILD=overwrite cargo test -p channels-tests --test ui`, then read every changed `.stderr`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/*/pass/*.rs");
    t.compile_fail("ui/*/fail/*.rs");
}
