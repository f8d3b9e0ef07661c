//! Page facts: what one walk over the page finds besides the article (metadata, the
//! headline and `<title>`, JSON-LD scripts, bylines, the publication time, the canonical link).

use scraper::{ElementRef, Html};

use crate::text::fold_whitespace;

/// The `<meta>` names and properties the extraction reads: the page handed to the parser for
/// the text has no others.
pub(super) const READ_METAS: &[&str] = &[
    "og:title",
    "twitter:title",
    "og:description",
    "description",
    "twitter:description",
    "author",
    "article:author",
    "article:published_time",
    "og:published_time",
    "date",
];

/// What one walk over the page finds besides the article: metadata, title, byline, links.
#[derive(Default)]
pub(super) struct PageFacts<'a> {
    /// `<meta>` names or properties (lowercased) with their content, in page order.
    pub(super) metas: Vec<(String, &'a str)>,
    pub(super) h1: Option<ElementRef<'a>>,
    pub(super) title: Option<ElementRef<'a>>,
    pub(super) body: Option<ElementRef<'a>>,
    pub(super) json_ld: Vec<ElementRef<'a>>,
    /// Elements naming the author: `.author`, `[rel=author]`, `[itemprop=author]`.
    pub(super) authors: Vec<ElementRef<'a>>,
    pub(super) time: Option<&'a str>,
    pub(super) canonical: Option<&'a str>,
}

impl<'a> PageFacts<'a> {
    pub(super) fn of(doc: &'a Html) -> Self {
        let mut f = PageFacts::default();
        for node in doc.root_element().descendants() {
            let Some(el) = ElementRef::wrap(node) else {
                continue;
            };
            let v = el.value();
            // One pass over the attributes: `Element::attr` interns and searches per call.
            let (mut key, mut content, mut href, mut datetime) = (None, None, None, None);
            let (mut rel, mut json_ld, mut author) = (None, false, false);
            for (name, value) in v.attrs() {
                match name {
                    "property" => key = Some(value),
                    "name" => key = key.or(Some(value)),
                    "content" => content = Some(value),
                    "href" => href = Some(value),
                    "datetime" => datetime = Some(value),
                    "rel" => rel = Some(value),
                    "type" => json_ld = value == "application/ld+json",
                    "itemprop" => author |= value == "author",
                    "class" => author |= value.split_ascii_whitespace().any(|c| c == "author"),
                    _ => {}
                }
            }
            author |= rel == Some("author");
            match v.name() {
                "meta" => {
                    if let (Some(key), Some(content)) = (key, content) {
                        f.metas.push((key.to_ascii_lowercase(), content));
                    }
                }
                "h1" if f.h1.is_none() => f.h1 = Some(el),
                "title" if f.title.is_none() => f.title = Some(el),
                "body" if f.body.is_none() => f.body = Some(el),
                "script" if json_ld => f.json_ld.push(el),
                "time" if f.time.is_none() => f.time = datetime,
                "link" if f.canonical.is_none() && rel == Some("canonical") => f.canonical = href,
                _ => {}
            }
            if author {
                f.authors.push(el);
            }
        }
        f
    }

    /// The first non-empty content of a `<meta>` with one of these names (each one of
    /// [`READ_METAS`]).
    pub(super) fn meta(&self, names: &[&str]) -> Option<String> {
        debug_assert!(names.iter().all(|n| READ_METAS.contains(n)), "{names:?}");
        self.metas.iter().find_map(|(key, content)| {
            names
                .iter()
                .any(|n| key.eq_ignore_ascii_case(n))
                .then(|| fold_whitespace(content))
                .filter(|s| !s.is_empty())
        })
    }
}
