//! Parsing the request's `Cookie` header(s) (Channels' `scope["cookies"]`) and its query string.

/// The cookies of every `Cookie` header, in order: several headers are read as one, joined with `; `
/// (RFC 6265 5.4 sends one header; HTTP/2 and some proxies split it, RFC 9113 8.2.3).
///
/// Each `name=value` pair is trimmed of spaces, and a value in double quotes loses them (RFC 6265's
/// `cookie-value` grammar). A pair without `=` is a value with an empty name, as Django's `parse_cookie`
/// reads it; empty pairs are skipped. Values are not percent-decoded (neither Django nor browsers do).
pub(crate) fn parse_cookies<'a>(
    headers: impl IntoIterator<Item = &'a str>,
) -> Vec<(String, String)> {
    let mut cookies = Vec::new();
    for header in headers {
        for pair in header.split(';') {
            let (name, value) = match pair.split_once('=') {
                Some((name, value)) => (name.trim(), value.trim()),
                None => ("", pair.trim()),
            };
            if name.is_empty() && value.is_empty() {
                continue;
            }
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            cookies.push((name.to_owned(), value.to_owned()));
        }
    }
    cookies
}

/// The query string's `name=value` pairs, in order, decoded as a form (`+` is a space, `%xx` escapes):
/// Django's `QueryDict` and Python's `parse_qsl(keep_blank_values=True)`.
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn cookies_of_one_header() {
        assert_eq!(
            parse_cookies(["sessionid=abc; csrftoken=x y ;theme=\"dark\""]),
            pairs(&[
                ("sessionid", "abc"),
                ("csrftoken", "x y"),
                ("theme", "dark")
            ])
        );
    }

    #[test]
    fn several_headers_are_joined() {
        assert_eq!(
            parse_cookies(["a=1; b=2", "c=3"]),
            pairs(&[("a", "1"), ("b", "2"), ("c", "3")])
        );
    }

    #[test]
    fn odd_pairs_are_read_like_django() {
        assert_eq!(
            parse_cookies([";; flag ; =v; a==b; e="]),
            pairs(&[("", "flag"), ("", "v"), ("a", "=b"), ("e", "")])
        );
        assert!(parse_cookies([""]).is_empty());
        // A lone quote is not a quoted value.
        assert_eq!(parse_cookies(["q=\""]), pairs(&[("q", "\"")]));
    }

    #[test]
    fn query_is_form_decoded() {
        assert_eq!(
            parse_query("token=a%2Bb&name=J+Doe&empty=&flag"),
            pairs(&[
                ("token", "a+b"),
                ("name", "J Doe"),
                ("empty", ""),
                ("flag", "")
            ])
        );
        assert!(parse_query("").is_empty());
    }
}
