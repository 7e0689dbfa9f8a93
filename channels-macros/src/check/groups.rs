//! Group names: `group!("chat")` and `#[consumer(groups = ["chat", "room.{room}"])]`.
//!
//! The naming rule and its words are `channels-names`'; this module adds the template syntax
//! (`{capture}` placeholders), which only the macros have.

use channels_names::validate_group_name;
use syn::{Ident, LitStr};

use super::names::{invalid, template_reason};
use crate::ctxt::Ctxt;
use crate::parse::ConsumerArgs;

/// A declared group: a literal name, possibly with `{capture}` placeholders.
pub struct GroupTemplate {
    /// The name as written.
    pub lit: LitStr,
    /// The capture names of its placeholders, in order.
    pub placeholders: Vec<String>,
    /// The literal text around the placeholders: one more than there are placeholders.
    pub segments: Vec<String>,
}

/// Checks a group name literal; with `templates`, `{capture}` placeholders are allowed.
pub fn group_name(lit: &LitStr, templates: bool) -> Result<GroupTemplate, syn::Error> {
    let value = lit.value();
    let mut placeholders = Vec::new();
    let mut segments = Vec::new();
    // The name with each placeholder filled in by one valid byte, and where each of its bytes is in
    // `value`, so a bad character is reported at its place in the template.
    let mut fixed = String::new();
    let mut offsets = Vec::new();
    let mut start = 0;
    let bad = |msg: String| syn::Error::new_spanned(lit, msg);
    while let Some(found) = value[start..].find(['{', '}']) {
        let open = start + found;
        fixed.push_str(&value[start..open]);
        offsets.extend(start..open);
        if value[open..].starts_with('}') {
            return Err(bad(format!(
                "unmatched `}}` in group name \"{value}\"\nhelp: placeholders read `{{capture}}`; \
                 group names can't contain braces otherwise"
            )));
        }
        if !templates {
            return Err(bad(format!(
                "invalid group name \"{value}\": `{{` is not allowed in a group name\nhelp: for \
                 a name built at runtime use `Group::new(format!(...))?`; placeholders like \
                 `{{room}}` work in `#[consumer(groups = [...])]`"
            )));
        }
        let after = &value[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(bad(format!(
                "unclosed `{{` in group template \"{value}\"\nhelp: close the placeholder, like \
                 \"room.{{room}}\", where `room` is a capture of the route's path"
            )));
        };
        let name = &after[..close];
        if syn::parse_str::<Ident>(name).is_err() {
            return Err(bad(format!(
                "`{{{name}}}` in group template \"{value}\" is not a capture name\nhelp: write \
                 `{{capture}}` with the name of a capture of the route's path, like \"room.{{room}}\""
            )));
        }
        placeholders.push(name.to_owned());
        segments.push(value[start..open].to_owned());
        fixed.push('x');
        offsets.push(open);
        start = open + 1 + close + 1;
    }
    fixed.push_str(&value[start..]);
    segments.push(value[start..].to_owned());
    offsets.extend(start..value.len());
    if let Err(error) = validate_group_name(&fixed) {
        let reason = if placeholders.is_empty() {
            error.explain(&value)
        } else {
            template_reason(error, &value, &offsets)
        };
        return Err(bad(invalid("group", &value, &reason)));
    }
    Ok(GroupTemplate {
        lit: lit.clone(),
        placeholders,
        segments,
    })
}

/// The declared groups of a consumer, each checked; a group declared twice is reported.
pub fn groups(args: &ConsumerArgs, cx: &mut Ctxt) -> Vec<GroupTemplate> {
    let mut out: Vec<GroupTemplate> = Vec::new();
    for lit in &args.groups {
        match group_name(lit, true) {
            Ok(g) => {
                if out.iter().any(|o| o.lit.value() == g.lit.value()) {
                    cx.spanned(lit, format!("group \"{}\" is declared twice", lit.value()));
                } else {
                    out.push(g);
                }
            }
            Err(e) => cx.push(e),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    fn lit(s: &str) -> LitStr {
        LitStr::new(s, Span::call_site())
    }

    fn error(s: &str, templates: bool) -> String {
        match group_name(&lit(s), templates) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn group_templates() {
        let g = group_name(&lit("room.{room}.{user}"), true).unwrap();
        assert_eq!(g.placeholders, ["room", "user"]);
        assert_eq!(g.segments, ["room.", ".", ""]);
        assert!(group_name(&lit("room.{room}"), false).is_err());
        assert!(group_name(&lit("room.{room"), true).is_err());
        assert!(group_name(&lit("room}"), true).is_err());
        assert!(group_name(&lit("room.{a-b}"), true).is_err());
        assert!(group_name(&lit("chat"), false).is_ok());
    }

    #[test]
    fn reasons_come_from_channels_names() {
        let reason =
            channels_names::NameError::InvalidCharacter { position: 4 }.explain("chat room");
        assert_eq!(
            error("chat room", false),
            format!("invalid group name \"chat room\": {reason}")
        );
        assert!(error("a!b", false).contains("`!` at byte 1"));
    }

    #[test]
    fn a_bad_character_in_a_template_is_found_where_it_is_written() {
        // Byte 13 of the template as written, not of the name with `{room}` filled in.
        assert!(
            error("room.{room}.a b", true).contains("a space at byte 13"),
            "{}",
            error("room.{room}.a b", true)
        );
        assert!(error("{a}.é", true).contains("`é` at byte 4"));
    }

    #[test]
    fn a_long_template_says_how_it_was_counted() {
        let long = format!("room.{}.{{room}}", "a".repeat(97));
        let e = error(&long, true);
        assert!(
            e.contains("even with one character per placeholder, the name is 104 characters long"),
            "{e}"
        );
    }
}
