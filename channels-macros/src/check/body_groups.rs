//! `group!("room.{room}")` in a `#[consumer] fn`'s body: which placeholders name the consumer's path
//! captures. Their characters are then checked on every route by `channel_routing!` (through the
//! companion's `NAME_CAPTURES`) instead of at run time.
//!
//! A placeholder counts only if the body never binds the name again (`let room = ...`, `for room in`,
//! a closure's `|room|`, a match arm's pattern): then the variable is the capture's value. The test is
//! on tokens and errs on the safe side: a name that may be bound again is checked at run time.

use std::collections::BTreeSet;

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// The names a `group!` template in `body` takes from `params` (the consumer's parameters, by name)
/// that the body never binds again, in order of first use.
pub fn capture_placeholders(body: &TokenStream, params: &[String]) -> Vec<String> {
    let mut bound = BTreeSet::new();
    bound_names(body, &mut bound);
    let trusted: Vec<&String> = params.iter().filter(|p| !bound.contains(*p)).collect();
    let mut used = Vec::new();
    for_each_template(body, &mut |template| {
        for name in placeholders(template) {
            if trusted.iter().any(|t| **t == name) && !used.contains(&name) {
                used.push(name);
            }
        }
    });
    used
}

/// Calls `f` with the literal's value of every `group!("...")` in `tokens`.
fn for_each_template(tokens: &TokenStream, f: &mut dyn FnMut(&str)) {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    for (i, tree) in trees.iter().enumerate() {
        if let Some(value) = group_call(&trees, i) {
            f(&value);
        }
        if let TokenTree::Group(g) = tree {
            for_each_template(&g.stream(), f);
        }
    }
}

/// The template of a `group!("...")` call starting at `trees[i]`.
pub fn group_call(trees: &[TokenTree], i: usize) -> Option<String> {
    let (TokenTree::Ident(name), Some(TokenTree::Punct(bang)), Some(TokenTree::Group(args))) =
        (&trees[i], trees.get(i + 1), trees.get(i + 2))
    else {
        return None;
    };
    if name != "group" || bang.as_char() != '!' || args.delimiter() != Delimiter::Parenthesis {
        return None;
    }
    let mut inner = args.stream().into_iter();
    let (Some(TokenTree::Literal(lit)), None) = (inner.next(), inner.next()) else {
        return None;
    };
    let lit: syn::LitStr = syn::parse2(TokenTree::Literal(lit).into()).ok()?;
    Some(lit.value())
}

/// The placeholder names of a template, as written (`"room.{room}.{user}"`: `room`, `user`).
pub fn placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        out.push(after[..close].to_owned());
        rest = &after[close + 1..];
    }
    out
}

/// Every name `tokens` may bind: after `let` (to its `=`), after `for` (to its `in`), between a
/// closure's `|`s, and in a match arm's pattern (before `=>`), at any depth.
fn bound_names(tokens: &TokenStream, out: &mut BTreeSet<String>) {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let mut i = 0;
    // Where the current arm's pattern may start: after the last `,`, `;` or `}` at this level.
    let mut arm_start = 0;
    while i < trees.len() {
        match &trees[i] {
            TokenTree::Ident(word) if word == "let" || word == "for" => {
                let stop = if word == "let" { '=' } else { 'i' };
                let mut j = i + 1;
                while j < trees.len() && !is_stop(&trees[j], stop) {
                    idents(&trees[j], out);
                    j += 1;
                }
                i = j;
                continue;
            }
            TokenTree::Punct(p) if p.as_char() == '|' => {
                let mut j = i + 1;
                while j < trees.len()
                    && !matches!(&trees[j], TokenTree::Punct(q) if q.as_char() == '|')
                {
                    idents(&trees[j], out);
                    j += 1;
                }
                i = j + 1;
                continue;
            }
            TokenTree::Punct(p) if p.as_char() == ',' || p.as_char() == ';' => arm_start = i + 1,
            TokenTree::Punct(p)
                if p.as_char() == '='
                    && matches!(trees.get(i + 1), Some(TokenTree::Punct(q)) if q.as_char() == '>') =>
            {
                for tree in &trees[arm_start..i] {
                    idents(tree, out);
                }
            }
            TokenTree::Group(g) => {
                bound_names(&g.stream(), out);
                if g.delimiter() == Delimiter::Brace {
                    arm_start = i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
}

/// Whether `tree` ends a `let` pattern (`=`, not `==`) or a `for` pattern (`in`).
fn is_stop(tree: &TokenTree, stop: char) -> bool {
    match (tree, stop) {
        (TokenTree::Punct(p), '=') => p.as_char() == '=',
        (TokenTree::Ident(word), 'i') => word == "in",
        _ => false,
    }
}

/// Every identifier in `tree`.
fn idents(tree: &TokenTree, out: &mut BTreeSet<String>) {
    match tree {
        TokenTree::Ident(ident) => {
            out.insert(ident.to_string());
        }
        TokenTree::Group(g) => {
            for tree in g.stream() {
                idents(&tree, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn used(body: TokenStream) -> Vec<String> {
        capture_placeholders(&body, &["room".to_owned(), "user".to_owned()])
    }

    #[test]
    fn placeholders_naming_parameters_are_found() {
        let body = quote! {
            group!("room.{room}").add(&message.reply_channel).await?;
            channels::group!("dm.{user}.{other}").send_text("hi").await
        };
        assert_eq!(used(body), ["room", "user"]);
    }

    #[test]
    fn a_name_bound_again_is_not_trusted() {
        for body in [
            quote! { let room = "x"; group!("room.{room}") },
            quote! { if let Some(room) = other { group!("room.{room}"); } },
            quote! { for room in rooms { group!("room.{room}"); } },
            quote! { rooms.iter().map(|room| group!("room.{room}")) },
            quote! { match x { Some(room) => group!("room.{room}"), None => todo!() } },
        ] {
            assert!(used(body.clone()).is_empty(), "{body}");
        }
    }

    #[test]
    fn equality_does_not_end_a_let() {
        let body = quote! { let same = a == b; group!("room.{room}") };
        assert_eq!(used(body), ["room"]);
    }
}
