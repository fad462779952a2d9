//! Turning an update's plain text into the HTML peers display, with its hashtags.

/// Longest update text accepted, in characters (Mastodon's own local limit is 500; peers accept
/// far more, and long-form updates are the point of an expertise profile).
pub const MAX_UPDATE_CHARS: usize = 5_000;

/// The HTML and hashtags of one update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedText {
    /// HTML paragraphs with links and hashtag links.
    pub html: String,
    /// Hashtag names without `#`, lowercased, in order of first use, without repeats.
    pub tags: Vec<String>,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Renders plain text: blank lines split paragraphs, single newlines become `<br>`, `http(s)`
/// URLs become links, and `#tags` become Mastodon-style hashtag links under `tag_base`
/// (for example `https://orgs.example/tags/`).
pub fn render(text: &str, tag_base: &str) -> RenderedText {
    let mut tags: Vec<String> = Vec::new();
    let mut html = String::new();
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        html.push_str("<p>");
        for (i, line) in para.lines().enumerate() {
            if i > 0 {
                html.push_str("<br>");
            }
            render_line(line, tag_base, &mut html, &mut tags);
        }
        html.push_str("</p>");
    }
    RenderedText { html, tags }
}

fn render_line(line: &str, tag_base: &str, html: &mut String, tags: &mut Vec<String>) {
    let mut first = true;
    for word in line.split(' ') {
        if !first {
            html.push(' ');
        }
        first = false;
        if let Some(tag) = hashtag(word) {
            let rest = &word[1 + tag.len()..];
            let lower = tag.to_lowercase();
            html.push_str(&format!(
                "<a href=\"{}{}\" class=\"mention hashtag\" rel=\"tag\">#<span>{}</span></a>{}",
                escape_html(tag_base),
                escape_html(&lower),
                escape_html(tag),
                escape_html(rest)
            ));
            if !tags.contains(&lower) {
                tags.push(lower);
            }
        } else if (word.starts_with("https://") || word.starts_with("http://")) && word.len() > 8 {
            let url = word.trim_end_matches(['.', ',', ')', ';', ':', '!', '?']);
            let rest = &word[url.len()..];
            let e = escape_html(url);
            html.push_str(&format!(
                "<a href=\"{e}\" rel=\"nofollow noopener\" target=\"_blank\">{e}</a>{}",
                escape_html(rest)
            ));
        } else {
            html.push_str(&escape_html(word));
        }
    }
}

/// The tag name if `word` starts with `#` followed by letters, digits or `_` (not all digits).
fn hashtag(word: &str) -> Option<&str> {
    let body = word.strip_prefix('#')?;
    let end = body
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(body.len(), |(i, _)| i);
    let tag = &body[..end];
    (!tag.is_empty() && tag.len() <= 100 && !tag.chars().all(|c| c.is_ascii_digit())).then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_paragraphs_links_and_tags() {
        let r = render(
            "Hello #Housing, see https://a.example/x.\n\nBye <b>",
            "https://o.example/tags/",
        );
        assert_eq!(r.tags, vec!["housing"]);
        assert!(r.html.starts_with("<p>Hello <a href=\"https://o.example/tags/housing\" class=\"mention hashtag\" rel=\"tag\">#<span>Housing</span></a>,"));
        assert!(r.html.contains(
            "<a href=\"https://a.example/x\" rel=\"nofollow noopener\" target=\"_blank\">https://a.example/x</a>.</p>"
        ));
        assert!(r.html.ends_with("<p>Bye &lt;b&gt;</p>"));
    }

    #[test]
    fn numbers_and_lone_hashes_are_not_tags() {
        assert!(render("#1 and # and #", "/t/").tags.is_empty());
        assert_eq!(render("#a #A #b", "/t/").tags, vec!["a", "b"]);
    }
}
