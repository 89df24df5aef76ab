//! Rust names for spec names: types, fields, functions, enum variants.

use heck::{ToSnakeCase, ToUpperCamelCase};

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// Type names that would shadow something the generated code uses unqualified.
const RESERVED_TYPES: &[&str] = &[
    "Option", "Result", "Vec", "String", "Box", "Value", "Map", "Some", "None", "Ok", "Err",
    "Self", "Default", "Client", "Error", "Response",
];

pub fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s)
}

/// Replaces the characters heck would drop in a way that makes distinct spec names collide.
fn spell_symbols(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev: Option<char> = None;
    for c in s.chars() {
        match c {
            '+' => out.push_str(" plus "),
            // A leading `-` or a second `-` in a row is a sign (`-1`, `reactions--1`), not a separator.
            '-' if prev.is_none() || prev == Some('-') => out.push_str(" minus "),
            '@' => out.push_str(" at "),
            '*' => out.push_str(" star "),
            c if c.is_alphanumeric() => out.push(c),
            _ => out.push(' '),
        }
        prev = Some(c);
    }
    out
}

/// UpperCamelCase type name; never empty, never starts with a digit, never reserved.
pub fn type_name(s: &str) -> String {
    let mut n = spell_symbols(s).to_upper_camel_case();
    if n.is_empty() {
        n = "Unnamed".into();
    }
    if n.starts_with(|c: char| c.is_ascii_digit()) {
        n = format!("T{n}");
    }
    if RESERVED_TYPES.contains(&n.as_str()) {
        n.push_str("Type");
    }
    n
}

/// Enum variant name for a string value.
pub fn variant_name(s: &str) -> String {
    let mut n = spell_symbols(s).to_upper_camel_case();
    if n.is_empty() {
        n = "Empty".into();
    }
    if n.starts_with(|c: char| c.is_ascii_digit()) {
        n = format!("V{n}");
    }
    if n == "Self" || n == "Other" {
        n.push('_');
    }
    n
}

/// snake_case identifier text (without `r#`); digits first get a leading underscore.
pub fn snake(s: &str) -> String {
    let mut n = spell_symbols(s).to_snake_case();
    if n.is_empty() {
        n = "value".into();
    }
    if n.starts_with(|c: char| c.is_ascii_digit()) {
        n = format!("_{n}");
    }
    n
}

/// snake_case identifier, escaped when it is a keyword.
pub fn field_ident(s: &str) -> proc_macro2::Ident {
    ident(&snake(s))
}

/// An identifier from already-cased text, with `r#` for keywords (or `_` for those raw idents cannot carry).
pub fn ident(s: &str) -> proc_macro2::Ident {
    if is_keyword(s) {
        if matches!(s, "self" | "Self" | "super" | "crate") {
            return proc_macro2::Ident::new(&format!("{s}_"), proc_macro2::Span::call_site());
        }
        return proc_macro2::Ident::new_raw(s, proc_macro2::Span::call_site());
    }
    proc_macro2::Ident::new(s, proc_macro2::Span::call_site())
}

/// Doc attributes, one per line, so prettyplease prints `///` comments rather than one block comment.
pub fn doc_attrs(text: &str) -> proc_macro2::TokenStream {
    // Relative links in GitHub's prose point into docs.github.com.
    let text = text.replace("](/", "](https://docs.github.com/");
    let lines = fence_languages(text.trim()).into_iter().map(|l| {
        let l = format!(" {}", l.trim_end());
        quote::quote!(#[doc = #l])
    });
    quote::quote!(#(#lines)*)
}

/// The lines of GitHub's Markdown `text`, each code fence that names no language marked `text`. Rustdoc takes a
/// fence without a language for Rust, to highlight and to compile as a doctest; GitHub's are shell commands, YAML,
/// JavaScript… A fence that names its language is left as it is (rustdoc tests only Rust).
fn fence_languages(text: &str) -> Vec<std::borrow::Cow<'_, str>> {
    // The fence that opened the block the walk is in: its character and length (CommonMark: a block closes at a
    // fence of the same character, at least as long, with nothing after it).
    let mut open: Option<(char, usize)> = None;
    text.lines()
        .map(|line| {
            let body = line.trim_start();
            let indent = line.len() - body.len();
            let fence = ['`', '~'].into_iter().find_map(|c| {
                let n = body.chars().take_while(|&x| x == c).count();
                (n >= 3 && indent < 4).then_some((c, n))
            });
            match (fence, open) {
                (Some((c, n)), Some((oc, on)))
                    if c == oc && n >= on && body[n..].trim().is_empty() =>
                {
                    open = None;
                }
                (Some((c, n)), None) => {
                    open = Some((c, n));
                    if body[n..].trim().is_empty() {
                        return std::borrow::Cow::Owned(format!("{line}text"));
                    }
                }
                _ => {}
            }
            std::borrow::Cow::Borrowed(line)
        })
        .collect()
}

/// `base`, or `base` with a suffix (`{base}{sep}2`, `{base}{sep}3`…) when `used` already has it; the result is added
/// to `used`.
pub fn unique(base: String, used: &mut std::collections::BTreeSet<String>, sep: &str) -> String {
    let mut name = base.clone();
    let mut n = 2;
    while !used.insert(name.clone()) {
        name = format!("{base}{sep}{n}");
        n += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_without_a_language_are_marked_text() {
        let md = "Run:\n\n```\n./config.sh --url URL\n```\n\n  ~~~~\n  a ``` inside\n  ~~~~\n\n```json\n{}\n```\n";
        let out: Vec<String> = fence_languages(md).into_iter().map(String::from).collect();
        assert_eq!(
            out,
            [
                "Run:",
                "",
                "```text",
                "./config.sh --url URL",
                "```",
                "",
                "  ~~~~text",
                "  a ``` inside",
                "  ~~~~",
                "",
                "```json",
                "{}",
                "```",
            ]
        );
        // An indented line of four spaces is not a fence.
        assert_eq!(fence_languages("    ```"), ["    ```"]);
    }

    #[test]
    fn reaction_values_do_not_collide() {
        assert_ne!(variant_name("reactions-+1"), variant_name("reactions--1"));
        assert_eq!(variant_name("+1"), "Plus1");
        assert_eq!(variant_name("-1"), "Minus1");
        assert_ne!(snake("+1"), snake("-1"));
    }

    #[test]
    fn names() {
        assert_eq!(type_name("nullable-simple-user"), "NullableSimpleUser");
        assert_eq!(type_name("result"), "ResultType");
        assert_eq!(snake("list-for-repo"), "list_for_repo");
        assert_eq!(field_ident("type").to_string(), "r#type");
        assert_eq!(variant_name("2fa"), "V2fa");
    }
}
