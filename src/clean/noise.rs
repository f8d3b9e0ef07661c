//! What counts as noise: elements that never hold article text, class/id hints of page
//! chrome, and whole paragraphs that are boilerplate labels.

use rustc_hash::{FxHashMap, FxHashSet as HashSet};

use ego_tree::{NodeId, NodeRef};
use scraper::Node;
use scraper::node::Element;

use super::marks::ends_with_stop;

/// Elements whose content is never article text.
pub(super) const SKIP_TAGS: &[&str] = &[
    "script",
    "style",
    "noscript",
    "template",
    "head",
    "title",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "iframe",
    "svg",
    "button",
    "input",
    "select",
    "textarea",
    "label",
    "figcaption",
    "object",
    "embed",
    "canvas",
    "video",
    "audio",
    "dialog",
    "menu",
    "amp-ad",
    "amp-embed",
    "amp-sticky-ad",
    "amp-analytics",
];

/// Words in a class or id that mark page chrome wherever they appear, even in a class that
/// also names the content ("article-share", "post-related").
const STRONG_NOISE_WORDS: &[&str] = &[
    "ad",
    "ads",
    "advert",
    "advertisement",
    "advertising",
    "adslot",
    "sponsored",
    "share",
    "sharing",
    "sharebar",
    "social",
    "newsletter",
    "subscribe",
    "subscription",
    "signup",
    "related",
    "recommended",
    "cookie",
    "cookies",
    "consent",
    "comment",
    "comments",
    "promo",
    "outbrain",
    "taboola",
    "paywall",
    "byline",
    "embed",
    "tooltip",
    "popover",
    "hovercard",
    // The author's box, named in one word (see [`AUTHOR_PAIRS`]).
    "authorbox",
    "authorbio",
    "authorinfo",
    // The same chrome in the languages of the larger news markets.
    "publicidad",
    "publicidade",
    "publicite",
    "pubblicita",
    "werbung",
    "anzeige",
    "compartir",
    "partager",
    "condividi",
    "relacionadas",
    "relacionados",
    "comentarios",
    "commentaires",
    "kommentare",
    "commenti",
];

/// Words that mark chrome only in classes that do not name the content: a
/// "content-with-sidebar" or a "box article modal-enabled" is the article.
const WEAK_NOISE_WORDS: &[&str] = &[
    "adv",
    "adverts",
    "gdpr",
    "sidebar",
    "breadcrumb",
    "breadcrumbs",
    "nav",
    "navbar",
    "menu",
    "footer",
    "masthead",
    "popup",
    "modal",
    // A lightbox: a video's or picture's overlay, set at the end of the body until shown.
    "lightbox",
    // A gallery of pictures set in the article: their captions, one per slide, are not its
    // text any more than a figure's caption is.
    "gallery",
    "tags",
    "caption",
    "credit",
    "credits",
    "toolbar",
    "skip",
    // A call to action ("custom-cta-letter"); weak, as a wrapper may say "has-cta".
    "cta",
    // An author's bio, an affiliate or legal disclaimer, WordPress's "filed under" line.
    "bio",
    "disclaimer",
    "postmetadata",
];

/// Words in a class that name the article's content.
const CONTENT_WORDS: &[&str] = &[
    "content",
    "article",
    "body",
    "main",
    "post",
    "entry",
    "story",
    "text",
    "articlebody",
];

/// What a word of a class says, as bits: chrome ([`STRONG_NOISE_WORDS`], [`WEAK_NOISE_WORDS`]),
/// the content itself ([`CONTENT_WORDS`]), or what a wrapper may also hold
/// ([`WRAPPER_WORDS`]). One lookup per word: the lists compared one by one were a twentieth
/// of the extraction's time.
const STRONG: u8 = 1;
const WEAK: u8 = 2;
const CONTENT: u8 = 4;
const WRAPPER: u8 = 8;
const LINE: u8 = 16;

/// Chrome words of elements that hold a name and a date: a byline. Such an element holding
/// paragraphs is the article set inside it (a blog editor that pasted a whole post into the
/// byline's `<span>`), not a line of chrome. (A caption or a credit may run to sentences of
/// its own.) A dateline is no chrome at all: "WASHINGTON —" opens the article's first
/// sentence.
const LINE_WORDS: &[&str] = &["byline"];

static WORD_KINDS: std::sync::LazyLock<super::NameKinds> = std::sync::LazyLock::new(|| {
    super::name_kinds(&[
        (STRONG_NOISE_WORDS, STRONG),
        (WEAK_NOISE_WORDS, WEAK),
        (CONTENT_WORDS, CONTENT),
        (WRAPPER_WORDS, WRAPPER),
        (LINE_WORDS, LINE),
    ])
});

/// Whether `word` is in the list of `kind`, itself or as the head of a compound.
fn is(kind: u8, word: &str) -> bool {
    WORD_KINDS
        .get(word)
        .or_else(|| compound_head(word).and_then(|head| WORD_KINDS.get(head)))
        .is_some_and(|k| k & kind != 0)
}

/// Chrome words that classes also run together with the part they name: WordPress's
/// `ol.commentlist`, a `div.commentbody`, a `div.relatedposts`.
const COMPOUND_HEADS: &[&str] = &["comments", "comment", "related"];

/// The parts such a compound names: an element of a page's layout, never a subject
/// ("commentary" is an article).
const COMPOUND_TAILS: &[&str] = &[
    "list",
    "body",
    "form",
    "area",
    "text",
    "box",
    "block",
    "container",
    "wrap",
    "wrapper",
    "section",
    "thread",
    "content",
    "meta",
    "metadata",
    "links",
    "posts",
    "stories",
    "items",
    "item",
];

/// The chrome word at the head of a compound class word ("commentlist" is a comment
/// list), when `word` is one.
fn compound_head(word: &str) -> Option<&'static str> {
    COMPOUND_HEADS.iter().copied().find(|head| {
        word.strip_prefix(head)
            .is_some_and(|tail| COMPOUND_TAILS.contains(&tail))
    })
}

/// Adjacent word pairs that mark chrome ("most-read", "read-more").
const NOISE_PAIRS: &[(&str, &str)] = &[
    ("most", "read"),
    ("most", "popular"),
    ("most", "viewed"),
    ("read", "more"),
    ("see", "also"),
    ("more", "stories"),
];

/// Adjacent word pairs that name the author's box under a post (a bio, a picture, links to
/// their profiles): chrome even in a class that names the content ("post-author-info").
/// The author's name above the post is its byline, a line of its own.
const AUTHOR_PAIRS: &[(&str, &str)] = &[
    ("author", "bio"),
    ("author", "box"),
    ("author", "info"),
    ("author", "information"),
    ("author", "description"),
    ("author", "details"),
    ("author", "profile"),
    ("author", "card"),
    ("about", "author"),
];

/// Whether two adjacent words are an [`AUTHOR_PAIRS`] pair (most first words are not
/// "author" or "about", and are answered by that).
fn is_author_pair(previous: &str, w: &str) -> bool {
    matches!(previous, "author" | "about") && AUTHOR_PAIRS.contains(&(previous, w))
}

/// ARIA roles of page chrome.
const NOISE_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "dialog",
    "search",
];

/// Paragraphs that are only a label, compared case-insensitively.
const NOISE_PARAGRAPHS: &[&str] = &[
    "advertisement",
    "advertisement banner",
    "advert",
    "ad",
    "sponsored",
    "sponsored content",
    "view post on x",
    "view on x",
    "view on twitter",
    "view this post on instagram",
    "view on instagram",
    "cover image",
    "share",
    "share this article",
    "copy link",
    "read more",
    "read full review",
    "learn more",
    "buy now",
    "more information",
    // WordPress's like button and comment form ("Like this:", "Like Loading...").
    "like this",
    "like loading",
    "share this",
    // The Sociable plugin's share bar.
    "be sociable, share",
    "leave a comment",
    "leave a reply",
    "comments are closed",
    "enlarge photo",
    "enlarge image",
    "enlarge this image",
    "view full profile",
    // The same labels in German, Spanish, French.
    "gefällt mir wird geladen",
    "weitere informationen",
    "me gusta cargando",
    "más información",
    "plus d'informations",
    "related",
    "related articles",
    "most read",
    "publicidad",
    "publicidade",
    "publicité",
    "pubblicità",
    "anzeige",
    "werbung",
    // Japanese: advertisement, sponsored link(s), related articles.
    "広告",
    "スポンサーリンク",
    "スポンサードリンク",
    "関連記事",
];

/// Whether an element (and everything inside it) is noise.
pub(super) fn is_noise(el: &Element) -> bool {
    is_noise_unless(el, |_| false)
}

/// [`is_noise`], with a chrome word in an id that `names_subject` says names the element's
/// subject not counted.
fn is_noise_unless(el: &Element, names_subject: impl Fn(&str) -> bool) -> bool {
    if SKIP_TAGS.contains(&el.name()) {
        return true;
    }
    let attrs = Attrs::of(el);
    attrs.hide()
        || attrs.class.is_some_and(has_noise_words)
        || attrs
            .id
            .is_some_and(|id| has_noise_words(id) && !names_subject(id))
}

/// The attributes the noise rules read, found in one pass over the element's: each
/// `Element::attr` call interns the name it is given and searches for it, which made
/// these checks a tenth of the extraction time.
#[derive(Default)]
struct Attrs<'a> {
    class: Option<&'a str>,
    id: Option<&'a str>,
    role: Option<&'a str>,
    style: Option<&'a str>,
    itemprop: Option<&'a str>,
    hidden: bool,
    aria_hidden: bool,
}

impl<'a> Attrs<'a> {
    fn of(el: &'a Element) -> Self {
        let mut a = Attrs::default();
        for (name, value) in el.attrs() {
            match name {
                "class" => a.class = Some(value),
                "id" => a.id = Some(value),
                "role" => a.role = Some(value),
                "style" => a.style = Some(value),
                "itemprop" => a.itemprop = Some(value),
                "hidden" => a.hidden = true,
                "aria-hidden" => a.aria_hidden = value == "true",
                _ => {}
            }
        }
        a
    }

    /// Noise by what the element is (hidden, a chrome role, page metadata), whatever its
    /// class.
    fn hide(&self) -> bool {
        (self.hidden && !self.id.is_some_and(is_streamed_segment))
            || self.aria_hidden
            || self.style.is_some_and(hidden_by_style)
            || self.role.is_some_and(|r| NOISE_ROLES.contains(&r.trim()))
            // Page metadata set in the body: the publication date.
            || self.itemprop.is_some_and(|p| {
                ["datePublished", "dateModified", "dateCreated"].contains(&p.trim())
            })
    }

    /// Noise by its class or id.
    fn hint(&self) -> bool {
        [self.class, self.id]
            .into_iter()
            .flatten()
            .any(has_noise_words)
    }
}

/// React's streaming server rendering sends parts of a page late, each in a hidden
/// `<div id="S:0">` at the end of the body that a script moves into its place: the part is
/// the page's content, hidden only until then.
fn is_streamed_segment(id: &str) -> bool {
    id.strip_prefix("S:")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Noise by its class or id.
fn has_noise_hint(el: &Element) -> bool {
    Attrs::of(el).hint()
}

/// Wrappers whose class or id is not believed: a `div#fixable_ad` or `div.page-ads` around
/// the headline and most of the article is the page, not an ad. Chrome never holds the
/// headline together with the prose (a masthead holds no prose, a comment thread no
/// headline), so these are the headline's ancestors that hold at least half the page's
/// long paragraphs outside other chrome. Found only when one of the headline's ancestors
/// has a noise hint. Likewise a `<form>` holding most of the page's text (an ASP.NET page
/// sets its whole body in one) or three paragraphs of prose (a product's order form) is
/// the page, not a search box or a comment form.
#[derive(Debug, Default)]
pub(super) struct Wrappers {
    ids: HashSet<NodeId>,
    /// Each element's answer, once asked (the extraction walks the page several times);
    /// the chrome it is given is answered as noise from the start.
    answers: std::cell::RefCell<rustc_hash::FxHashMap<NodeId, bool>>,
}

impl Wrappers {
    /// A paragraph this long counts as prose.
    const PROSE_CHARS: usize = 80;

    /// The wrappers of the page under `body`, with `chrome` (the teaser grids) noise
    /// whatever they hold.
    pub(super) fn of(
        body: NodeRef<'_, Node>,
        headline: Option<NodeRef<'_, Node>>,
        chrome: Vec<NodeId>,
    ) -> Wrappers {
        let mut wrappers = page_forms(body);
        wrappers.extend(Self::headline_wrappers(body, headline));
        wrappers.extend(prose_wrappers(body));
        let answers = chrome.into_iter().map(|id| (id, true)).collect();
        Wrappers {
            ids: wrappers,
            answers: std::cell::RefCell::new(answers),
        }
    }

    fn headline_wrappers(
        body: NodeRef<'_, Node>,
        headline: Option<NodeRef<'_, Node>>,
    ) -> HashSet<NodeId> {
        let Some(headline) = headline else {
            return HashSet::default();
        };
        let hinted: HashSet<NodeId> = headline
            .ancestors()
            .filter(|a| matches!(a.value(), Node::Element(el) if has_noise_hint(el)))
            .map(|a| a.id())
            .collect();
        if hinted.is_empty() {
            return HashSet::default();
        }
        // Long paragraphs under `root`, not counting those inside other chrome. One walk per
        // hinted ancestor (a handful) and one for the page: linear in the page.
        let prose = |root: NodeRef<'_, Node>| {
            let mut n = 0usize;
            let mut stack = vec![root];
            while let Some(node) = stack.pop() {
                let Node::Element(el) = node.value() else {
                    continue;
                };
                if node.id() != root.id() && !hinted.contains(&node.id()) && is_noise(el) {
                    continue;
                }
                if el.name() == "p" {
                    n += usize::from(is_prose(node));
                    continue;
                }
                stack.extend(node.children());
            }
            n
        };
        let total = prose(body);
        headline
            .ancestors()
            .filter(|a| hinted.contains(&a.id()))
            .filter(|&a| {
                let n = prose(a);
                n >= 3 && 2 * n >= total
            })
            .map(|a| a.id())
            .collect()
    }

    /// Whether `node`, an element, is noise (with everything inside it).
    pub(super) fn is_noise(&self, node: NodeRef<'_, Node>, el: &Element) -> bool {
        if let Some(&known) = self.answers.borrow().get(&node.id()) {
            return known;
        }
        let noise = if self.ids.contains(&node.id()) {
            (SKIP_TAGS.contains(&el.name())
                && el.name() != "form"
                && !WRAPPER_TAGS.contains(&el.name()))
                || Attrs::of(el).hide()
        } else {
            (is_noise_unless(el, |id| names_its_heading(node, id))
                && !is_long_line(node, el)
                && !is_mid_sentence(node, el))
                || is_author_box(node, el)
        };
        self.answers.borrow_mut().insert(node.id(), noise);
        noise
    }
}

/// Whether `node` is a box about the author: a block named `author` itself (a class of that
/// word alone, or the id) holding more than a byline. A byline (`div.author`: "By Ana Ruiz,
/// harbour correspondent") stays a line; a bio set in such a box is not the article.
fn is_author_box(node: NodeRef<'_, Node>, el: &Element) -> bool {
    /// Longer than a byline with a title and a date.
    const LONGEST_BYLINE: usize = 150;
    if !matches!(el.name(), "div" | "section" | "aside") {
        return false;
    }
    let a = Attrs::of(el);
    (a.class.is_some_and(|c| {
        c.split_whitespace()
            .any(|c| c.eq_ignore_ascii_case("author"))
    }) || a.id.is_some_and(|id| id.eq_ignore_ascii_case("author")))
        && text_len(node) > LONGEST_BYLINE
}

/// Whether `node` is a shown phrase inside a sentence: an inline element with words of the
/// sentence on both sides of it. Its class names what it does (a note that pops up, a
/// glossary link), not chrome around the text: "I am a <a class="popup">rather elderly</a>
/// man" loses words without it.
fn is_mid_sentence(node: NodeRef<'_, Node>, el: &Element) -> bool {
    let words = |n: Option<NodeRef<'_, Node>>| {
        n.and_then(|n| n.value().as_text())
            .is_some_and(|t| t.chars().any(char::is_alphanumeric))
    };
    matches!(
        el.name(),
        "a" | "span" | "em" | "strong" | "b" | "i" | "font" | "abbr" | "cite"
    ) && words(node.prev_sibling())
        && words(node.next_sibling())
        && !Attrs::of(el).hide()
}

/// Whether `node` is chrome only by the words of a line ([`LINE_WORDS`]) and holds more
/// text than any line: then it is what was set inside it.
fn is_long_line(node: NodeRef<'_, Node>, el: &Element) -> bool {
    /// Longer than any byline: a name or two, a title, a date.
    const LONGEST_LINE: usize = 200;
    let a = Attrs::of(el);
    // A phrase's element: a block (`div.credit-cards`) is a section whatever its length.
    matches!(
        el.name(),
        "span" | "b" | "strong" | "em" | "i" | "font" | "small"
    ) && !a.hide()
        && [a.class, a.id]
            .into_iter()
            .flatten()
            .all(|hint| !has_noise_words_but(hint, LINE))
        && text_len(node) > LONGEST_LINE
}

/// Whether `id` is `node`'s own heading's words: documentation generators and Markdown
/// renderers make a section's id from its title ("Sharing with a single developer" in
/// `div.section#sharing-with-a-single-developer`), so a chrome word in such an id is the
/// subject's, not the element's role. Only for titles of four words or more that are no
/// label: `section#related-articles` under "Related articles" is chrome.
fn names_its_heading(node: NodeRef<'_, Node>, id: &str) -> bool {
    // The section's heading comes first: among its first few elements.
    let heading = node
        .descendants()
        .skip(1)
        .filter(|n| n.value().is_element())
        .take(4)
        .find(|n| {
            matches!(n.value(), Node::Element(h) if matches!(h.name(), "h1" | "h2" | "h3" | "h4" | "h5" | "h6"))
        });
    let Some(heading) = heading else {
        return false;
    };
    let title = heading
        .descendants()
        .filter_map(|n| n.value().as_text())
        .map(|t| &**t)
        .collect::<Vec<_>>()
        .join(" ");
    words_of(&title).count() >= 4
        && !is_closing_label(&title)
        && words_of(id)
            .map(str::to_ascii_lowercase)
            .eq(words_of(&title).map(str::to_ascii_lowercase))
}

/// Whether a paragraph is long enough to count as prose ([`Wrappers::PROSE_CHARS`]).
pub(super) fn is_prose(p: NodeRef<'_, Node>) -> bool {
    text_len(p) >= Wrappers::PROSE_CHARS
}

/// Bytes of text under `node`, each text trimmed.
pub(super) fn text_len(node: NodeRef<'_, Node>) -> usize {
    node.descendants()
        .filter_map(|t| t.value().as_text())
        .map(|t| t.trim().len())
        .sum()
}

/// Words of a class that a wrapper around the whole article may carry for what it also
/// holds (an ad slot, a share bar): `div.share-container` around the share buttons and the
/// post. Comments, related links and teasers are not among them: those hold prose of
/// their own that must never be read as the article.
const WRAPPER_WORDS: &[&str] = &[
    "ad",
    "ads",
    "adv",
    "advert",
    "advertisement",
    "advertising",
    "adslot",
    "share",
    "sharing",
    "sharebar",
    "social",
    "paywall",
];

/// Chrome tags that page builders also set around a whole article: Webflow's `<header
/// class="section_blog-post">`, a theme's `<aside class="blogPost">`. Such an element is the
/// article when it holds most of the page's prose, as [`prose_wrappers`] finds.
const WRAPPER_TAGS: &[&str] = &["header", "aside"];

/// Elements that hold at least three of the page's long paragraphs and half of them, and
/// that are chrome only by a [`WRAPPER_TAGS`] tag, by [`WRAPPER_WORDS`] or by weak words
/// ("above-cta", "layout-sidebar") in their class: the article's wrappers, not chrome.
fn prose_wrappers(body: NodeRef<'_, Node>) -> HashSet<NodeId> {
    let wrapper_hint = |el: &Element| {
        let a = Attrs::of(el);
        [a.class, a.id].into_iter().flatten().all(|hint| {
            let lower = hint.to_ascii_lowercase();
            let words: Vec<&str> = lower.split_whitespace().flat_map(words_of).collect();
            !words.iter().any(|w| is(STRONG, w) && !is(WRAPPER, w))
        })
    };
    let (mut total, mut held) = (0usize, FxHashMap::<NodeId, usize>::default());
    let mut hints = FxHashMap::<NodeId, Option<bool>>::default();
    let mut stack = vec![body];
    while let Some(node) = stack.pop() {
        let Node::Element(el) = node.value() else {
            continue;
        };
        // List items and figures hold captions and teasers (a gallery of fifty), never the
        // run of an article's paragraphs.
        if (SKIP_TAGS.contains(&el.name()) && !WRAPPER_TAGS.contains(&el.name()))
            || matches!(el.name(), "li" | "figure")
            || Attrs::of(el).hide()
        {
            continue;
        }
        if el.name() != "p" {
            stack.extend(node.children());
            continue;
        }
        if !is_prose(node) {
            continue;
        }
        total += 1;
        for a in node.ancestors() {
            let Node::Element(ael) = a.value() else {
                continue;
            };
            // Whether it has a chrome hint, and if so whether only a wrapper's: read once
            // per element, though every paragraph under it asks.
            let kind = *hints.entry(a.id()).or_insert_with(|| {
                (WRAPPER_TAGS.contains(&ael.name()) || has_noise_hint(ael))
                    .then(|| wrapper_hint(ael))
            });
            match kind {
                None => {}
                Some(false) => break,
                Some(true) => *held.entry(a.id()).or_default() += 1,
            }
        }
    }
    held.into_iter()
        .filter(|&(_, n)| n >= 3 && 2 * n >= total)
        .map(|(id, _)| id)
        .collect()
}

/// The `<form>`s under `body` that hold at least half of its text, or three paragraphs of
/// prose: a shop sets a product's description inside its order form, where a search box or
/// a comment form holds a label or two.
fn page_forms(body: NodeRef<'_, Node>) -> HashSet<NodeId> {
    let text_len = |root: NodeRef<'_, Node>| -> usize {
        let mut n = 0;
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            match node.value() {
                Node::Text(t) => n += t.trim().len(),
                Node::Element(el) if matches!(el.name(), "script" | "style" | "noscript") => {}
                _ => stack.extend(node.children()),
            }
        }
        n
    };
    let forms: Vec<NodeRef<'_, Node>> = body
        .descendants()
        .filter(|n| matches!(n.value(), Node::Element(el) if el.name() == "form"))
        .collect();
    if forms.is_empty() {
        return HashSet::default();
    }
    let total = text_len(body);
    forms
        .into_iter()
        .filter(|f| {
            (2 * text_len(*f) >= total && total > 0)
                || f.descendants()
                    .filter(|p| matches!(p.value(), Node::Element(el) if el.name() == "p"))
                    .filter(|p| is_prose(*p))
                    .count()
                    >= 3
        })
        .map(|f| f.id())
        .collect()
}

/// An inline style that hides the element: `display: none` or `visibility: hidden`.
pub(super) fn hidden_by_style(style: &str) -> bool {
    style.split(';').any(|decl| {
        let Some((prop, value)) = decl.split_once(':') else {
            return false;
        };
        let (prop, value) = (
            prop.trim(),
            value.trim().trim_end_matches("!important").trim(),
        );
        (prop.eq_ignore_ascii_case("display") && value.eq_ignore_ascii_case("none"))
            || (prop.eq_ignore_ascii_case("visibility") && value.eq_ignore_ascii_case("hidden"))
    })
}

/// The words of a class or id: "social-media-embed" is social, media, embed.
pub(super) fn words_of(class: &str) -> impl Iterator<Item = &str> {
    class
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Whether an element's class or id names an embed ("embed-x", "social-media-embed"):
/// chrome around a post whose own words, in a `<blockquote>`, may stay.
pub(super) fn is_embed(el: &Element) -> bool {
    let a = Attrs::of(el);
    [a.class, a.id]
        .into_iter()
        .flatten()
        .flat_map(words_of)
        .any(|w| w.eq_ignore_ascii_case("embed"))
}

fn has_noise_words(hint: &str) -> bool {
    has_noise_words_but(hint, 0)
}

/// [`has_noise_words`], with the words of the kinds in `but` not counted.
fn has_noise_words_but(hint: &str, but: u8) -> bool {
    words_name_chrome(&crate::text::ascii_lowercase(hint), but, STRONG | WEAK)
        || camel_parts(hint).is_some_and(|parts| words_name_chrome(&parts, but, WEAK))
}

/// A camelCase hint's words apart and lowercased ("imageCaption" is "image-caption"), or
/// `None` when it has no such compound. Of those words only the weak chrome words count:
/// a caption, a gallery or a navigation bar is chrome however its class is spelled, but a
/// component named after a strong word may be the page itself (a forum's posts are its
/// `MtnComment` components).
fn camel_parts(hint: &str) -> Option<String> {
    let bytes = hint.as_bytes();
    if !bytes
        .windows(2)
        .any(|p| p[0].is_ascii_lowercase() && p[1].is_ascii_uppercase())
    {
        return None;
    }
    let mut out = String::with_capacity(hint.len() + 4);
    let mut after_lower = false;
    for c in hint.chars() {
        if c.is_ascii_uppercase() && after_lower {
            out.push('-');
        }
        after_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_lowercase());
    }
    Some(out)
}

/// Whether a lowercase hint's words name chrome, counting the chrome words of the kinds in
/// `kinds` (strong ones, weak ones, or both) and leaving out those of the kinds in `but`.
fn words_name_chrome(lower: &str, but: u8, kinds: u8) -> bool {
    if !may_name_chrome(lower) {
        return false;
    }
    // An element whose classes name the content itself ("l-sidebar-fixed
    // l-article-body-segment", "content-with-sidebar") is chrome only when a class says so
    // plainly ("article-share", "post-related").
    let names_content = lower
        .split_whitespace()
        .flat_map(words_of)
        .any(|w| is(CONTENT, w));
    // WordPress marks a post's own element (`post_class`: "hentry", "type-post",
    // "post-123") and adds a class per term of each of its taxonomies ("autor-x",
    // "especiales-portada", "internet-estallido-comentarios"): words of the post's
    // subjects, not chrome.
    let wordpress_post = lower.split_whitespace().any(|c| {
        c == "hentry"
            || c == "type-post"
            || c.strip_prefix("post-")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    });
    for class in lower
        .split_whitespace()
        .filter(|c| !(is_taxonomy(c) || (wordpress_post && c.contains('-'))))
    {
        // A BEM modifier that says the block holds an ad slot or a share bar
        // ("TestReport__Section--Ads") names a variant of the block, not an ad: only the
        // block's own words count then.
        let class = match class.split_once("--") {
            Some((block, modifier))
                if !block.is_empty() && words_of(modifier).all(|w| is(WRAPPER, w)) =>
            {
                block
            }
            _ => class,
        };
        let mut previous = "";
        for w in words_of(class) {
            // "with-navbar", "has-sidebar", "no-footer", "one-sidebar": the layout around
            // it, not its role.
            let layout = matches!(previous, "with" | "has" | "no" | "without" | "one" | "two");
            // Webflow's HTML block (`w-embed`, `html-embed`): the author's own markup, often
            // a table of the article, not a post embedded from elsewhere.
            let html_block = w == "embed" && matches!(previous, "w" | "html");
            let weak = kinds & WEAK != 0
                && !layout
                && (is(WEAK, w) || NOISE_PAIRS.contains(&(previous, w)));
            let author_box = kinds != 0 && is_author_pair(previous, w);
            if !is(but, w)
                && !html_block
                && (is(kinds & STRONG, w) || author_box || (!names_content && weak))
            {
                return true;
            }
            previous = w;
        }
    }
    false
}

/// Whether any word of a (lowercase) class or id is a chrome word, or any two adjacent
/// words a chrome pair: what [`has_noise_words`] needs to say yes. Most classes have none,
/// and are answered by this one lookup per word.
fn may_name_chrome(lower: &str) -> bool {
    let mut previous = "";
    words_of(lower).any(|w| {
        let chrome = is(STRONG | WEAK, w)
            || NOISE_PAIRS.contains(&(previous, w))
            || is_author_pair(previous, w);
        previous = w;
        chrome
    })
}

/// WordPress and similar CMSs label a post's container with its taxonomy
/// (`category-native-advertising`, `tag-social-media`), some behind a word for the post
/// (TypePad's `entry-category-advertising`): words about the subject, not chrome. Behind
/// another word the marker is no taxonomy's: `footer-section-links` is the footer's.
fn is_taxonomy(class: &str) -> bool {
    [
        "category-",
        "tag-",
        "tags-",
        "topic-",
        "section-",
        "format-",
        "status-",
        "type-",
        "postid-",
    ]
    .iter()
    .any(|p| {
        class.match_indices(p).any(|(i, _)| {
            i == 0
                || (matches!(class.as_bytes()[i - 1], b'-' | b'_')
                    && words_of(&class[..i]).all(|w| is(CONTENT, w)))
        })
    })
}

/// A label's words without the dots, colon, exclamation mark or arrow that may close it
/// ("Read more »", "You may also like...", "Leave a comment!").
fn label_words(p: &str) -> &str {
    p.trim()
        .trim_end_matches(['.', '…', ':', '!', '›', '»', '→'])
        .trim()
}

/// Whether a whole paragraph is a boilerplate label or an embed's chrome.
pub(super) fn is_noise_paragraph(text: &str) -> bool {
    let t = label_words(text);
    let embed_link = t
        .get(..16)
        .is_some_and(|head| head.eq_ignore_ascii_case("pic.twitter.com/"));
    // Labels are short: a paragraph is lowercased only when it could be one.
    embed_link
        || (t.len() <= 40 && NOISE_PARAGRAPHS.contains(&t.to_lowercase().as_str()))
        || is_caption_line(t)
        || is_taxonomy_line(t)
}

/// Labels that open a post's line of tags or categories ("Filed under: Politics |",
/// "Tags: harbour, city"), lowercased.
const TAXONOMY_LABELS: &[&str] = &[
    "tags",
    "tagged",
    "categories",
    "category",
    "filed under",
    "posted in",
    "topics",
    "themen",
    "schlagwörter",
    "schlagworte",
    "etiquetas",
    "catégories",
];

/// Whether a paragraph is a post's line of tags or categories: a [`TAXONOMY_LABELS`]
/// label, a colon, and a line's worth of terms.
fn is_taxonomy_line(p: &str) -> bool {
    p.len() <= 200
        && p.split_whitespace().count() <= 24
        && label_of(p, &[':'], 14).is_some_and(|l| TAXONOMY_LABELS.contains(&l.as_str()))
}

/// Labels that open an image's caption or credit set as a paragraph ("Foto: dpa",
/// "Abbildung: Vergleich ...").
const CAPTION_LABELS: &[&str] = &[
    "foto",
    "fotos",
    "photo",
    "photos",
    "bild",
    "abbildung",
    "image",
    "credit",
    "crédit photo",
];

/// Whether a paragraph is a caption or a credit: a [`CAPTION_LABELS`] label, a colon, and
/// at most a few lines.
fn is_caption_line(p: &str) -> bool {
    p.len() <= 400 && label_of(p, &[':'], 12).is_some_and(|l| CAPTION_LABELS.contains(&l.as_str()))
}

/// What opens `p` before the first of `separators`, trimmed and lowercased, when it is at
/// most `max` bytes: a label, to be looked up in a list of them.
fn label_of(p: &str, separators: &[char], max: usize) -> Option<String> {
    p.split_once(separators)
        .filter(|(label, _)| label.len() <= max)
        .map(|(label, _)| label.trim().to_lowercase())
}

/// Labels that introduce a link to another story ("READ MORE: ...", "Lea también: ...").
const PROMO_LABELS: &[&str] = &[
    "read more",
    "see more",
    "more",
    "related",
    "see also",
    "also read",
    "read also",
    "also see",
    "read next",
    "recommended",
    "don't miss",
    "don’t miss",
    "must read",
    "lea también",
    "leia também",
    "lire aussi",
    "à lire aussi",
    "leggi anche",
    "lesen sie auch",
    "lesen sie hier",
    "mehr zum thema",
    "puedes ver",
    "lee también",
    "mira también",
];

/// Whether a paragraph opens with a promo label and a colon or an arrow ("À lire aussi »").
pub(super) fn is_promo_label(p: &str) -> bool {
    label_of(p, &[':', '»', '›', '→'], 20).is_some_and(|l| PROMO_LABELS.contains(&l.as_str()))
}

/// Labels that open a section closing an article which is not its text: the author's bio,
/// further reading, related stories, a press release's contacts. Compared with a label's
/// start, lowercased.
const CLOSING_LABELS: &[&str] = &[
    "about the author",
    "related",
    "read also",
    "also read",
    "see also",
    "more on this",
    "recommended reading",
    "recommended articles",
    "recommended stories",
    "further reading",
    "more from",
    "more great",
    "top stories",
    "article sources",
    "kontakt",
    "pressekontakt",
    "press contact",
    "media contact",
    "über den autor",
    "über die autorin",
    "lesen sie auch",
    "lesen sie mehr",
    "mehr zum thema",
    "weitere artikel",
    "zum weiterlesen",
    "à propos de l'auteur",
    "à lire aussi",
    "lire aussi",
    "sur le même sujet",
    "sobre el autor",
    "lea también",
    "lee también",
    "noticias relacionadas",
    "leia também",
    "leggi anche",
    "articoli correlati",
];

/// Whether a paragraph is a label ([`CLOSING_LABELS`], or a [`RECIRCULATION_HEADINGS`]
/// one set as a paragraph): a few words, not a sentence.
pub(super) fn is_closing_label(p: &str) -> bool {
    let p = p.trim();
    if p.len() > 60 || p.split_whitespace().count() > 8 || ends_with_stop(p) {
        return false;
    }
    let lower = p.to_lowercase();
    // Whole words: "Relatedness of the two species" titles a part of the article.
    CLOSING_LABELS
        .iter()
        .chain(RECIRCULATION_HEADINGS)
        .any(|l| {
            lower
                .strip_prefix(l)
                .is_some_and(|rest| !rest.starts_with(char::is_alphanumeric))
        })
}

/// What a comment thread's heading says, lowercased, once its count is gone ("12
/// Comments", "Comments (3)", "Leave a Reply").
const COMMENT_HEADINGS: &[&str] = &[
    "comments",
    "reader comments",
    "leave a comment",
    "leave a reply",
    "post a comment",
    "add a comment",
    "kommentare",
    "comentarios",
    "commentaires",
    "commenti",
    "reacties",
    "komentarze",
];

/// Words of a comment thread's heading only with a count, alone or before "to"/"on" and
/// the post's title ("One response to \u{201c}Title\u{201d}", "12 thoughts on ...", "2
/// Replies"): alone, "Response" titles a part of an article about HTTP.
const COUNTED_COMMENT_HEADINGS: &[&str] = &[
    "comment",
    "comments",
    "response",
    "responses",
    "reply",
    "replies",
    "thoughts",
];

/// Whether a heading titles readers' comments ([`COMMENT_HEADINGS`], or a count and
/// [`COUNTED_COMMENT_HEADINGS`]).
pub(super) fn is_comments_heading(h: &str) -> bool {
    if h.len() > 200 {
        return false;
    }
    let lower = h.to_lowercase();
    let mut words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let count = |w: &str| w.bytes().all(|b| b.is_ascii_digit()) || matches!(w, "one" | "no");
    let counted = words.first().is_some_and(|w| count(w)) || words.last().is_some_and(|w| count(w));
    words.retain(|w| !count(w));
    // "14 thoughts on <the post's title>".
    if counted && words.get(1).is_some_and(|w| matches!(*w, "to" | "on")) {
        return COUNTED_COMMENT_HEADINGS.contains(&words[0]);
    }
    COMMENT_HEADINGS.contains(&words.join(" ").as_str())
        || (counted && words.len() == 1 && COUNTED_COMMENT_HEADINGS.contains(&words[0]))
}

/// Headings over other posts offered to read next, lowercased: never a part of the article,
/// however much follows them. Set as a paragraph, each is a closing label too.
const RECIRCULATION_HEADINGS: &[&str] = &[
    "you may also like",
    "you might also like",
    "recommended for you",
    "você pode gostar",
    "você também pode gostar",
    "te puede interesar",
    "también te puede interesar",
    "también te puede gustar",
    "ti potrebbe interessare",
    "potrebbe interessarti anche",
    "vous aimerez aussi",
    "vous aimerez peut-être aussi",
    "das könnte sie auch interessieren",
    "das könnte dich auch interessieren",
];

/// Whether a heading offers other posts to read next ([`RECIRCULATION_HEADINGS`], with any
/// closing dots, colon or arrow).
pub(super) fn is_recirculation_heading(h: &str) -> bool {
    let h = label_words(h);
    h.len() <= 60 && RECIRCULATION_HEADINGS.contains(&h.to_lowercase().as_str())
}

/// Phrases of a call to follow, subscribe or download that closes a page's text ("Follow us
/// on Telegram", "Síguenos en Instagram"), lowercased.
const CALLS_TO_ACTION: &[&str] = &[
    "follow us",
    "subscribe now",
    "subscribe to our",
    "sign up for our",
    "join our",
    "keep up with me",
    "download our app",
    "app for ios",
    "apps for ios",
    "síguenos",
    "siguenos",
    "suscríbete",
    "únete",
    "folgen sie uns",
    "suivez-nous",
    "abonnez-vous",
    "siga-nos",
    "seguici",
];

/// Whether a paragraph is a short call to action ([`CALLS_TO_ACTION`]).
pub(super) fn is_call_to_action(p: &str) -> bool {
    if p.len() > 300 || p.split_whitespace().count() > 40 {
        return false;
    }
    let lower = p.to_lowercase();
    CALLS_TO_ACTION.iter().any(|c| lower.contains(c))
}

/// Whether a link's text is an embed's fallback chrome (`pic.twitter.com/…`, "View on
/// Twitter") or another label of its own.
pub(super) fn is_noise_link_text(text: &str) -> bool {
    is_noise_paragraph(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts that `f` says yes to each of `yes` and no to each of `no`.
    fn sorts(f: impl Fn(&str) -> bool, yes: &[&str], no: &[&str]) {
        for s in yes {
            assert!(f(s), "{s:?} is one");
        }
        for s in no {
            assert!(!f(s), "{s:?} is none");
        }
    }

    #[test]
    fn inline_styles_that_hide() {
        sorts(
            hidden_by_style,
            &[
                "display:none",
                "color: red; display : NONE !important",
                "visibility: hidden",
            ],
            &[
                "display: block",
                "font-family: none",
                "visibility: visible",
                "none",
            ],
        );
    }

    #[test]
    fn comment_thread_headings() {
        sorts(
            is_comments_heading,
            &[
                "Comments",
                "12 Comments",
                "Comments (3)",
                "One response to \u{201c}My favourite graphs\u{201d}",
                "14 thoughts on \u{201c}Rust in production\u{201d}",
                "Leave a Reply",
                "2 Kommentare",
            ],
            &[
                "Response",
                "Replies to the consultation",
                "Comments on the draft regulation",
                "The comments that changed the bill",
            ],
        );
    }

    #[test]
    fn class_hints() {
        let cases = [
            ("ad-slot ad-inline", true),
            ("share-bar", true),
            ("newsletter-signup", true),
            ("most-read", true),
            ("cookie-consent", true),
            ("embed embed-x", true),
            // Webflow's HTML block: the author's own markup.
            ("w-embed", false),
            ("br-html-embed w-embed", false),
            ("smg-zone-widget-custom-cta-letter", true),
            ("post-content has-cta", false),
            ("article-body", false),
            ("header shadow download", false),
            ("read", false),
            ("content-with-sidebar-wrp", false),
            ("left-sidebar-2", true),
            ("article-share", true),
            ("l-sidebar-fixed l-article-body-segment", false),
            (
                "post hentry category-native-advertising tag-social-media",
                false,
            ),
            ("post-related", true),
            ("loader thread", false),
            ("entry-category-advertising entry-author-x entry", false),
            ("footer-section-links", true),
            ("sidebar-tag-cloud", true),
            ("pmc-trailer-widget-lightbox", true),
            ("gallery-lightbox article-images", false),
            ("full-gallery", true),
            ("post gallery page", false),
            // camelCase compounds: their weak chrome words count, their strong ones not.
            ("InlineImage-imageCaption", true),
            ("globalNav", true),
            ("articleBody", false),
            ("articleGallery", false),
            ("contentWithSidebar", false),
            ("MtnComment", false),
            ("CNN", false),
            // A chrome word run together with the part it names; a subject is no part.
            ("commentlist", true),
            ("commentbody by-drno", true),
            ("relatedposts", true),
            ("commentary", false),
            // The author's box, whatever else the class names; the byline is no box.
            ("author-bio", true),
            ("post-author-info", true),
            ("_authorDescription_15srf_27", true),
            ("authorinfo p7222a3", true),
            ("author-name", false),
            // A bio, a disclaimer, a post's "filed under" line.
            ("bio", true),
            ("disclaimer-shortcode", true),
            ("postmetadata alt clear", true),
            ("author", false),
            ("commenting-guidelines-link", false),
        ];
        for (class, want) in cases {
            assert_eq!(has_noise_words(class), want, "{class}");
        }
    }

    #[test]
    fn closing_labels() {
        sorts(
            is_closing_label,
            &[
                "About the author",
                "Recommended Reading",
                "More from SewCanShe:",
                "More Great WIRED Stories",
                "Further reading",
                "Article Sources",
            ],
            &[
                "Recommended courses:",
                "More from the harbour authority came on Monday.",
                "Relatedness of the two species",
            ],
        );
    }

    #[test]
    fn recirculation_headings() {
        assert!(is_recirculation_heading("Você pode gostar..."));
        assert!(is_recirculation_heading("You may also like:"));
        assert!(!is_recirculation_heading("You may also like the new quay"));
    }

    #[test]
    fn promo_labels() {
        sorts(
            is_promo_label,
            &[
                "Lesen Sie hier: Spielabbruch in der Kreisliga",
                "PUEDES VER: ¿Qué es la Sunedu?",
            ],
            &["Puedes verlo así: la ley cambió en marzo."],
        );
    }

    #[test]
    fn label_paragraphs() {
        sorts(
            is_noise_paragraph,
            &[
                "Advertisement banner",
                " View post on X ",
                "Read more »",
                "Foto: dpa/Jonas Beispiel",
                "Abbildung: Vergleich auf dem Gletscher (links)",
                "Filed under: Politics |",
                "Tags: harbour, quay, city council",
                "Topics: Venezuela, oil, shipping",
                "Comments are closed.",
                "Enlarge this image",
                "Gefällt mir Wird geladen...",
                "Weitere Informationen",
                "Like this:",
                "Like Loading...",
                "Be Sociable, Share!",
                "Leave a Reply",
                "LEARN MORE",
            ],
            &[
                "Categories: the council sorted the bids into three, and the cheapest one won \
                 although its builder had never worked on a harbour before and the engineers \
                 had warned against it.",
                "Learn more about the harbour's history.",
                "Photographers: they came from Caracas to cover the talks.",
                "Advertisement revenue fell in Venezuela.",
            ],
        );
    }
}
