//! A Markdown page read as CommonMark (GitHub's tables included) into
//! what the checks look at: inline code, link targets, fenced code blocks
//! (with the HTML comment right before one, which marks a sample), and the
//! anchors its headings make — each with the line it is on.

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// One page of the docs.
pub struct Doc {
    /// Relative to the repository's root, `/`-separated: `docs/vms.md`.
    pub path: String,
    pub items: Vec<Item>,
    /// The anchors of its headings, as GitHub makes them (`#the-agent`).
    pub anchors: Vec<String>,
}

/// Something on a page a check may object to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// An inline code span: `` `crates/weft/src/main.rs` ``.
    Code { line: usize, text: String },
    /// A link's target: `[x](docs/vms.md#addresses)`.
    Link { line: usize, target: String },
    /// A fenced code block; `line` is its first line of content, `marker`
    /// the text of an HTML comment (`<!-- refused -->`) just before it.
    Block {
        line: usize,
        lang: String,
        text: String,
        marker: Option<String>,
    },
}

impl Doc {
    pub fn parse(path: &str, text: &str) -> Doc {
        let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
        let mut items = Vec::new();
        let mut anchors = Vec::new();
        let mut heading: Option<String> = None;
        let mut block: Option<(usize, String, String)> = None;
        let mut marker: Option<String> = None;
        let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
        for (event, range) in Parser::new_ext(text, options).into_offset_iter() {
            match event {
                Event::Start(Tag::CodeBlock(kind)) => {
                    let (line, lang) = match kind {
                        CodeBlockKind::Fenced(info) => (
                            line_of(range.start) + 1,
                            info.split_whitespace().next().unwrap_or("").to_string(),
                        ),
                        CodeBlockKind::Indented => (line_of(range.start), "(indented)".to_string()),
                    };
                    block = Some((line, lang, String::new()));
                }
                Event::End(TagEnd::CodeBlock) => {
                    if let Some((line, lang, text)) = block.take() {
                        items.push(Item::Block {
                            line,
                            lang,
                            text,
                            marker: marker.take(),
                        });
                    }
                }
                Event::Text(t) => {
                    if let Some((_, _, body)) = &mut block {
                        body.push_str(&t);
                    } else if let Some(h) = &mut heading {
                        h.push_str(&t);
                    }
                }
                Event::Code(code) => {
                    if let Some(h) = &mut heading {
                        h.push_str(&code);
                    }
                    items.push(Item::Code {
                        line: line_of(range.start),
                        text: code.to_string(),
                    });
                }
                Event::Html(html) => {
                    let html = html.trim();
                    if let Some(comment) = html
                        .strip_prefix("<!--")
                        .and_then(|h| h.strip_suffix("-->"))
                    {
                        marker = Some(comment.trim().to_string());
                    }
                }
                Event::Start(Tag::HtmlBlock) => {}
                Event::Start(Tag::Heading { .. }) => {
                    marker = None;
                    heading = Some(String::new());
                }
                Event::End(TagEnd::Heading(_)) => {
                    if let Some(h) = heading.take() {
                        // A repeated heading gets `-1`, `-2`, … as on GitHub.
                        let base = anchor(&h);
                        let mut unique = base.clone();
                        let mut n = 0;
                        while anchors.contains(&unique) {
                            n += 1;
                            unique = format!("{base}-{n}");
                        }
                        anchors.push(unique);
                    }
                }
                Event::Start(Tag::Link { dest_url, .. }) => {
                    items.push(Item::Link {
                        line: line_of(range.start),
                        target: dest_url.to_string(),
                    });
                }
                // Any other block between a comment and a code block
                // ends the comment's reach.
                Event::Start(_) => marker = None,
                _ => {}
            }
        }
        Doc {
            path: path.to_string(),
            items,
            anchors,
        }
    }
}

/// The anchor GitHub gives a heading: lowercase, spaces to `-`, every
/// character but letters, digits, `-` and `_` dropped.
pub fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}
