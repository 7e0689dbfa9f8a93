//! `channels-tests` holds no library code: its test targets are `integration` (every test over real
//! sockets, in `integration/`) and `ui` (the compile-fail suite, in `ui/`). Run them with
//! `cargo test --workspace --all-features`, or one of them with `cargo test -p channels-tests --test ui`.
