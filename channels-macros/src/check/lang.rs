//! Questions about what a path pattern can match, decided on its regex language with a DFA
//! (`regex-automata`, the engine of the runtime's `regex`).
//!
//! Every route is reduced to one regex, matched from the start of the text, that matches some prefix of a
//! path exactly when the route matches that path ([`Lang::new`] takes it; `check::style` builds it for
//! each syntax). Then:
//! - [`Lang::can_match_first`]: can it match a path whose first byte passes a test (a Channels 1.x path
//!   starts with `/`; a Channels 2+ `URLRouter` path never does)?
//! - [`Lang::shadows`]: does every path it matches also match another route's language?
//!
//! A DFA that would be too large gives no answer (`None`), and no error is reported on a guess.

use std::collections::{HashSet, VecDeque};

use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};

/// Beyond this, a question is left unanswered (no error).
const SIZE_LIMIT: usize = 4 << 20;
/// States of a product automaton explored at most.
const PAIR_LIMIT: usize = 50_000;

/// A route's language: the paths some prefix of which its regex matches.
pub struct Lang {
    dfa: dense::DFA<Vec<u32>>,
    start: StateID,
}

impl Lang {
    /// The language of `regex`, matched from the start of the text; `None` if its DFA is too large or
    /// uses what a DFA can't (a Unicode `\b` on non-ASCII text).
    pub fn new(regex: &str) -> Option<Lang> {
        let dfa = dense::Builder::new()
            .configure(
                dense::DFA::config()
                    .start_kind(StartKind::Anchored)
                    .match_kind(MatchKind::All)
                    .minimize(false)
                    .unicode_word_boundary(true)
                    .dfa_size_limit(Some(SIZE_LIMIT))
                    .determinize_size_limit(Some(SIZE_LIMIT)),
            )
            .build(regex)
            .ok()?;
        let start = dfa
            .start_state(&start::Config::new().anchored(Anchored::Yes))
            .ok()?;
        Some(Lang { dfa, start })
    }

    /// Whether the text read so far (ending in state `s`) is in the language.
    fn accepts_here(&self, s: StateID) -> bool {
        self.dfa.is_match_state(self.dfa.next_eoi_state(s))
    }

    /// Whether a match is reachable from `s` (some extension of the text read so far has a matching
    /// prefix).
    fn can_reach_match(&self, from: StateID) -> bool {
        let mut seen = HashSet::from([from]);
        let mut queue = VecDeque::from([from]);
        while let Some(s) = queue.pop_front() {
            if self.dfa.is_match_state(s) || self.accepts_here(s) {
                return true;
            }
            if self.dfa.is_dead_state(s) || self.dfa.is_quit_state(s) || seen.len() > PAIR_LIMIT {
                continue;
            }
            for byte in 0..=255u8 {
                let next = self.dfa.next_state(s, byte);
                if seen.insert(next) {
                    queue.push_back(next);
                }
            }
        }
        false
    }

    /// Whether it matches some path whose first byte passes `first` (a language with the empty string
    /// matches every path).
    pub fn can_match_first(&self, first: impl Fn(u8) -> bool) -> bool {
        if self.accepts_here(self.start) {
            return true;
        }
        (0..=255u8)
            .filter(|b| first(*b))
            .any(|b| self.can_reach_match(self.dfa.next_state(self.start, b)))
    }

    /// Whether every path this language matches is matched by `earlier` too; `None` when the question
    /// is too large to settle.
    ///
    /// Both DFAs run over the same text. A match state after a byte means the text before it matched
    /// (a prefix: the route matches every path going on from there); a match after the end-of-input
    /// transition means the text itself matched (patterns ending in `$` or `\z` only match so). A
    /// counterexample is a text that `self` matches and `earlier` matches no prefix of.
    pub fn shadowed_by(&self, earlier: &Lang) -> Option<bool> {
        let (a, b) = (earlier, self);
        // `None` for `self`: it already matched a prefix, so it matches whatever follows.
        let start = (a.start, Some(b.start));
        let mut seen = HashSet::from([start]);
        let mut queue = VecDeque::from([start]);
        while let Some((sa, sb)) = queue.pop_front() {
            let b_here = sb.is_none_or(|sb| b.accepts_here(sb));
            if b_here && !a.accepts_here(sa) {
                return Some(false);
            }
            if a.dfa.is_quit_state(sa) || sb.is_some_and(|sb| b.dfa.is_quit_state(sb)) {
                return None;
            }
            for byte in 0..=255u8 {
                let na = a.dfa.next_state(sa, byte);
                // `earlier` matched the text before `byte`: it takes every path from here.
                if a.dfa.is_match_state(na) {
                    continue;
                }
                let nb = match sb {
                    None => None,
                    Some(sb) => {
                        let nb = b.dfa.next_state(sb, byte);
                        if b.dfa.is_match_state(nb) {
                            None
                        } else if b.dfa.is_dead_state(nb) {
                            continue;
                        } else {
                            Some(nb)
                        }
                    }
                };
                if seen.insert((na, nb)) {
                    if seen.len() > PAIR_LIMIT {
                        return None;
                    }
                    queue.push_back((na, nb));
                }
            }
        }
        Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(regex: &str) -> Lang {
        Lang::new(regex).expect("builds")
    }

    #[test]
    fn first_byte() {
        let slash = |b: u8| b == b'/';
        let not_slash = |b: u8| b != b'/';
        assert!(lang(r"\A(?:^/chat/)").can_match_first(slash));
        assert!(!lang(r"\A(?:ws/chat/(?P<room_name>\w+)/$)").can_match_first(slash));
        assert!(!lang(r"\A(?:^/ws/)").can_match_first(not_slash));
        assert!(lang(r"\A(?:^)").can_match_first(slash));
        // Search semantics: anywhere.
        assert!(lang(r"\A(?s:.)*?(?:/x)").can_match_first(not_slash));
    }

    #[test]
    fn shadowing() {
        let catch_all = lang(r"\A(?:^/)");
        let chat = lang(r"\A(?:^/chat/(?P<room>\w+)/$)");
        assert_eq!(chat.shadowed_by(&catch_all), Some(true));
        assert_eq!(catch_all.shadowed_by(&chat), Some(false));
        let digits = lang(r"\A(?:^/(?P<n>\d+)/$)");
        let words = lang(r"\A(?:^/(?P<n>\w+)/$)");
        assert_eq!(digits.shadowed_by(&words), Some(true));
        assert_eq!(words.shadowed_by(&digits), Some(false));
        let a = lang(r"\A(?:^/a/)");
        let b = lang(r"\A(?:^/b/)");
        assert_eq!(a.shadowed_by(&b), Some(false));
        // Anchored at the end: only the empty path.
        let empty = lang(r"^\z");
        let page = lang(r"^(?P<page>[-a-zA-Z0-9_]+)/\z");
        assert_eq!(page.shadowed_by(&empty), Some(false));
        assert_eq!(empty.shadowed_by(&page), Some(false));
        let prefix = lang(r"\A(?s:.)*?(?:^ws/)");
        let room = lang(r"^ws/room/\z");
        assert_eq!(room.shadowed_by(&prefix), Some(true));
        // `a` then anything vs `ab` exactly.
        assert_eq!(
            lang(r"\A(?:a)").shadowed_by(&lang(r"\A(?:ab)")),
            Some(false)
        );
        assert_eq!(
            lang(r"\A(?:ab)\z").shadowed_by(&lang(r"\A(?:a)")),
            Some(true)
        );
    }
}
