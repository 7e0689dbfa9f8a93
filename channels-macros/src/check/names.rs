//! Event and channel names in a routing table, against `channels-names` (the rule the runtime uses
//! too). What is added here is only what a compiler message can do better: the span, "did you mean",
//! and a name shortened for the headline.

use channels_names::{EventKind, NameError, classify, events, validate_routed_channel_name};
use syn::LitStr;

use crate::ctxt::Ctxt;

/// How far (in edits) a name may be from a built-in event to be suggested.
const SUGGEST_DISTANCE: usize = 4;
/// A custom channel this close to a built-in event is taken for a typo of it.
const TYPO_DISTANCE: usize = 2;

/// Checks the event (or custom channel) name of a route.
pub fn check_event(lit: &LitStr, cx: &mut Ctxt) {
    let name = lit.value();
    let nearest = events::ALL
        .iter()
        .map(|b| (levenshtein(b, &name), *b))
        .min();
    match classify(&name) {
        EventKind::Builtin => {}
        EventKind::Reserved => {
            let hint = match nearest {
                Some((d, b)) if d <= SUGGEST_DISTANCE => format!(": did you mean \"{b}\"?"),
                _ => String::new(),
            };
            cx.spanned(
                lit,
                format!("unknown event \"{name}\"{hint}\nhelp: {}", events::Rule),
            );
        }
        EventKind::Custom => {
            if let Some((d, b)) = nearest
                && d <= TYPO_DISTANCE
            {
                cx.spanned(
                    lit,
                    format!(
                        "unknown event \"{name}\": did you mean \"{b}\"?\nhelp: a custom channel this \
                         close to a built-in event's name is refused as a likely typo; choose another name"
                    ),
                );
            } else if let Err(error) = validate_routed_channel_name(&name) {
                cx.spanned(lit, invalid("channel", &name, &error.explain(&name)));
            }
        }
    }
}

/// Whether a route's event is a custom channel (whose messages have no path).
pub fn is_custom_channel(lit: &LitStr) -> bool {
    classify(&lit.value()) == EventKind::Custom
}

/// `invalid group name "...": reason`, with a long name shortened.
pub fn invalid(what: &str, name: &str, reason: &str) -> String {
    format!("invalid {what} name \"{}\": {reason}", shorten(name))
}

/// The reason a group name with placeholders is refused, checked with each placeholder filled in by one
/// character: positions are those of the template as written (`offsets[i]` is where byte `i` of the
/// filled-in name comes from), and a length says how it was counted.
pub fn template_reason(error: NameError, template: &str, offsets: &[usize]) -> String {
    let at = |position: usize| offsets.get(position).copied().unwrap_or(position);
    match error {
        NameError::InvalidCharacter { position } => NameError::InvalidCharacter {
            position: at(position),
        }
        .explain(template),
        NameError::MisplacedBang { position } => NameError::MisplacedBang {
            position: at(position),
        }
        .to_string(),
        NameError::TooLong { .. } => format!("even with one character per placeholder, {error}"),
        other => other.explain(template),
    }
}

fn shorten(name: &str) -> String {
    if name.chars().count() > 40 {
        format!("{}...", name.chars().take(37).collect::<String>())
    } else {
        name.to_owned()
    }
}

/// Edit distance, for "did you mean".
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    fn errors(name: &str) -> Option<String> {
        let mut cx = Ctxt::default();
        check_event(&LitStr::new(name, Span::call_site()), &mut cx);
        cx.finish().map(|e| e.to_string())
    }

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("websocket.receive", "websocket.recieve"), 2);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("same", "same"), 0);
    }

    #[test]
    fn events_are_classified_as_the_runtime_does() {
        assert_eq!(errors("websocket.receive"), None);
        assert_eq!(errors("thumbnails.generate"), None);
        // Reserved, far from every event: unknown, not a custom channel.
        let http_foo = errors("http.foo").unwrap();
        assert!(
            http_foo.starts_with("unknown event \"http.foo\""),
            "{http_foo}"
        );
        assert!(http_foo.contains(&events::Rule.to_string()));
        assert!(
            errors("websocket.recieve")
                .unwrap()
                .contains("did you mean \"websocket.receive\"?")
        );
        assert!(errors("websoket.connect").unwrap().contains("likely typo"));
    }

    #[test]
    fn channel_names_are_explained_by_channels_names() {
        let space = errors("thumbnails generate").unwrap();
        let reason = NameError::InvalidCharacter { position: 10 }.explain("thumbnails generate");
        assert_eq!(
            space,
            format!("invalid channel name \"thumbnails generate\": {reason}")
        );
        assert!(
            errors("specific.abc!def")
                .unwrap()
                .contains("process-local")
        );
        assert!(
            errors(&"x".repeat(100))
                .unwrap()
                .contains("must be shorter than 100")
        );
    }

    #[test]
    fn template_positions_refer_to_the_template() {
        // "room.{room}.a b" with `{room}` filled in as `x`: "room.x.a b".
        let template = "room.{room}.a b";
        let fixed = "room.x.a b";
        let mut offsets: Vec<usize> = (0..5).collect();
        offsets.push(5);
        offsets.extend(11..15);
        let error = channels_names::validate_group_name(fixed).unwrap_err();
        let reason = template_reason(error, template, &offsets);
        assert!(
            reason.starts_with("the name has a space at byte 13"),
            "{reason}"
        );
    }
}
