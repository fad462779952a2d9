//! Sanitising remote HTML before it is stored or shown (Mastodon's allow-list).

use std::collections::HashSet;

/// Longest remote HTML read, in bytes: longer input is cut (at a character boundary) before it
/// is sanitised, so the sanitiser closes whatever the cut left open. Sanitised HTML is never cut.
pub const MAX_REMOTE_HTML: usize = 64 * 1024;
/// Longest remote display name kept, in characters.
pub const MAX_REMOTE_NAME: usize = 200;

/// The elements remote HTML may keep (Mastodon's allow-list).
pub const ALLOWED_TAGS: [&str; 17] = [
    "p",
    "br",
    "span",
    "a",
    "del",
    "s",
    "pre",
    "blockquote",
    "code",
    "b",
    "strong",
    "u",
    "i",
    "em",
    "ul",
    "ol",
    "li",
];

/// Keeps only Mastodon's allowed elements, `http(s)` links, and `h-*`/`mention`/`hashtag`
/// classes; drops scripts, styles, event handlers and every other attribute.
pub fn sanitize(html: &str) -> String {
    let html = &html[..floor_char_boundary(html, MAX_REMOTE_HTML)];
    let tags: HashSet<&str> = ALLOWED_TAGS.into_iter().collect();
    let mut classes = HashSet::new();
    classes.insert("mention");
    classes.insert("hashtag");
    classes.insert("invisible");
    classes.insert("ellipsis");
    classes.insert("h-card");
    classes.insert("u-url");
    ammonia::Builder::default()
        .tags(tags)
        .tag_attributes(Default::default())
        .generic_attributes(HashSet::new())
        .add_tag_attributes("a", ["href"])
        .allowed_classes([("a", classes.clone()), ("span", classes)].into_iter().collect())
        .url_schemes(["http", "https"].into_iter().collect())
        // Remote links are absolute; a relative one would point into our own site (the
        // fuzzer's third finding: `htt\u{fffd}://...` passed as a relative URL).
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("nofollow noopener noreferrer"))
        .clean(html)
        .to_string()
}

/// The largest index `<= at` on a character boundary of `s`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

/// Plain text of a remote name: tags removed, whitespace collapsed, length bounded.
pub fn plain_name(raw: &str) -> String {
    let text = ammonia::Builder::empty().clean(raw).to_string();
    let text = text
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"");
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REMOTE_NAME)
        .collect()
}

/// Plain text of remote HTML (a summary), whitespace collapsed, at most 2,000 characters.
pub fn plain_name_long(raw: &str) -> String {
    let spaced = raw.replace("</p>", "</p> ").replace("<br>", " ");
    let text = ammonia::Builder::empty().clean(&spaced).to_string();
    let text = text
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"");
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(2_000)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_everything_executable() {
        for evil in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<svg><script>alert(1)</script></svg>",
            "<p style=\"background:url(javascript:alert(1))\">x</p>",
            "<iframe src=//evil></iframe>",
        ] {
            let clean = sanitize(evil);
            for bad in ["<script", "onerror", "javascript:", "<svg", "style=", "<iframe", "<img"] {
                assert!(!clean.contains(bad), "{evil} -> {clean}");
            }
        }
    }

    #[test]
    fn keeps_links_and_mentions() {
        let clean = sanitize("<p>Hi <a href=\"https://x.example/@a\" class=\"u-url mention\">@a</a></p>");
        assert!(clean.contains("href=\"https://x.example/@a\""));
        assert!(clean.contains("mention"));
    }

    #[test]
    fn names_become_plain_text() {
        assert_eq!(plain_name("<b>Open</b>\n  Aid &amp; Co"), "Open Aid & Co");
    }
}
