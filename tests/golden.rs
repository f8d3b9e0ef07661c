//! Golden pages in the shapes the web has (WordPress with Jetpack share and related posts,
//! AMP, a paywalled app shell with JSON-LD, a table-and-<font> layout in windows-1252, a
//! Spanish page, comment threads, an article closed by a bio, further reading and a call to
//! follow the site): every line of `NAME.expected` is a paragraph of the
//! extracted text and no line of `NAME.noise` appears in it. Each page mentions
//! "Venezuela" only in its navigation, sidebars, related links or comments, so a watch for
//! it must never fire on these articles.

use feedwatch::{clean, fetch};

/// How many alerts a watch on `term` raises on the article.
fn alerts(article: &feedwatch::model::Article, term: &str) -> usize {
    let watch = feedwatch::matcher::Matcher::new(vec![feedwatch::matcher::WatchSpec {
        name: "w".into(),
        terms: vec![term.into()],
        ..Default::default()
    }])
    .unwrap();
    let scope = feedwatch::matcher::Scope {
        source: "s",
        tags: &[],
    };
    watch
        .match_article(scope, &article.title, &article.text)
        .len()
}

fn check(name: &str) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/golden");
    let body = std::fs::read(format!("{dir}/{name}.html")).unwrap();
    let expected = std::fs::read_to_string(format!("{dir}/{name}.expected")).unwrap();
    let noise = std::fs::read_to_string(format!("{dir}/{name}.noise")).unwrap();
    let html = fetch::decode_html(&body, None);
    let article = clean::extract_article(&html);
    let paragraphs: Vec<&str> = article.text.split("\n\n").collect();
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            paragraphs.contains(&line),
            "{name}: missing paragraph\n  {line}\nin\n{}",
            article.text
        );
    }
    for line in noise.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            !article.text.contains(line),
            "{name}: noise {line:?} kept in\n{}",
            article.text
        );
    }
    assert!(!article.title.is_empty(), "{name}: no title");
    // The watch for the word the page holds only in its chrome never fires on it.
    assert_eq!(alerts(&article, "Venezuela"), 0, "{name}: the watch fired");
    // The same page always gives the same text: a page source would otherwise see changes
    // that are not there.
    for _ in 0..10 {
        assert_eq!(
            clean::extract_article(&html),
            article,
            "{name}: not deterministic"
        );
    }
}

#[test]
fn wordpress_with_jetpack_share_related_and_comments() {
    check("wordpress");
}

#[test]
fn amp_page_with_ad_and_tweet_embed() {
    check("amp");
}

#[test]
fn paywalled_app_shell_gives_the_json_ld_body() {
    check("paywall");
}

#[test]
fn legacy_table_layout_in_windows_1252() {
    check("legacy-1252");
}

#[test]
fn spanish_page_with_comments() {
    check("spanish");
}

/// Paragraphs set as text between `<br><br>` and subheads, not in `<p>`s (older blogs):
/// the text is the article, not the meta description.
#[test]
fn br_separated_paragraphs_in_a_container() {
    check("br-paragraphs");
}

/// An ASP.NET page sets its whole body in one `<form>`: the form is the page, not a
/// search box to drop.
#[test]
fn a_page_inside_one_form() {
    check("aspnet-form");
}

/// React's streaming rendering sends the article late, in a hidden `<div id="S:0">` a
/// script moves into place: that part is the content; other hidden boxes stay hidden.
#[test]
fn a_streamed_react_page() {
    check("react-stream");
}

/// A share bar's container that also wraps the post (`div.share-container`) is the post's
/// wrapper; a gallery of captions and the comments stay out.
#[test]
fn a_share_bar_container_around_the_post() {
    check("share-wrapper");
}

/// WordPress names each term of a post's taxonomies in its classes: a term that reads like
/// chrome ("internet-debate-comentarios") does not make the post chrome.
#[test]
fn wordpress_post_with_taxonomy_classes() {
    check("wordpress-terms");
}

/// An article spread over many small sections, a paragraph each (product and landing
/// pages): every section's paragraph, not only the best-scoring one.
#[test]
fn an_article_spread_over_sections() {
    check("spread-sections");
}

/// A page builder's article set inside `<header>` sections (Webflow): the body, not the
/// meta description (the text used to be the teaser only), nor the "more from the blog"
/// cards.
#[test]
fn an_article_inside_header_sections() {
    check("header-wrapper");
}

/// A short article above a grid of teaser cards, each a headline and a sentence or two:
/// the article, not the grid (whose sentences outnumber the article's).
#[test]
fn a_short_article_above_a_teaser_grid() {
    check("teaser-grid");
}

/// A table-layout blog whose content cell holds the post and then its comment thread, each
/// comment a `div.commentbody` (a chrome word run together with the part it names): the
/// post, not the thread, though the thread is the longer.
#[test]
fn a_comment_thread_named_in_compound_classes() {
    check("table-blog-comments");
}

/// German and Dutch sites put soft hyphens (`&shy;`) inside long words, and some pages
/// spell accents as a letter and a combining mark: the text comes out composed and without
/// the hyphens, so a watch on the word fires and copies spelled either way compare equal.
#[test]
fn soft_hyphens_and_decomposed_accents() {
    let paragraph = "Schon im Mit&shy;tel&shy;al&shy;ter war der St. Mag&shy;da&shy;le&shy;ner \
                     das Aushängeschild der Su\u{308}dtiroler Weinwirtschaft, sagt der Winzer.";
    let html = format!(
        "<html><head><title>Rotweine</title></head><body><article><h1>Rotweine</h1>\
         <p>{paragraph}</p><p>{paragraph}</p><p>{paragraph}</p></article></body></html>"
    );
    let article = clean::extract_article(&html);
    assert!(
        article
            .text
            .contains("Mittelalter war der St. Magdalener das Aushängeschild der Südtiroler"),
        "{}",
        article.text
    );
    assert_eq!(alerts(&article, "Magdalener"), 1);
}

/// A paragraph of the harbour story the closing tests share.
const HARBOUR: &str = "<p>The harbour authority said on Monday that the new quay would open in \
                       spring, after two years of work and a long dispute over its cost with \
                       the city.</p>";

/// The harbour story's page: its headline, then `body`, in an `<article>`.
fn harbour_page(body: &str) -> feedwatch::model::Article {
    clean::extract_article(&format!(
        "<html><head><title>Quay</title></head><body><article><h1>Quay</h1>{body}\
         </article></body></html>"
    ))
}

/// An article that closes with a paragraph that is nothing but a link to elsewhere (a forum
/// thread, more on the topic): the link is not the article's text and its words never alert.
#[test]
fn a_closing_link_is_not_the_article() {
    let article = harbour_page(&format!(
        "{HARBOUR}{HARBOUR}{HARBOUR}\
         <p><a href=\"/forum/42\">Venezuela and its ports: discuss in the forum</a></p>"
    ));
    assert!(article.text.ends_with("with the city."), "{}", article.text);
    assert_eq!(alerts(&article, "Venezuela"), 0);
    assert_eq!(alerts(&article, "harbour"), 1);
}

/// An article that closes on headings with nothing under them (a "Related" box whose links
/// were left out, an author box's title): they title parts that are not there, and their
/// words never alert. A heading inside the article, with text after it, stays.
#[test]
fn a_closing_heading_is_not_the_article() {
    let article = harbour_page(&format!(
        "{HARBOUR}<h2>The cost</h2>{HARBOUR}{HARBOUR}\
         <h3>More on Venezuela</h3><h4>About the author</h4>"
    ));
    assert!(article.text.ends_with("with the city."), "{}", article.text);
    assert!(article.text.contains("The cost"), "{}", article.text);
    assert_eq!(alerts(&article, "Venezuela"), 0);
    assert_eq!(alerts(&article, "harbour"), 1);
    // Text set loose after a heading is not the heading's: it stays.
    let article = harbour_page(&format!(
        "{HARBOUR}{HARBOUR}<div><h4>Note</h4>The quay serves Venezuela too.</div>"
    ));
    assert!(
        article.text.ends_with("serves Venezuela too."),
        "{}",
        article.text
    );
}

/// A blog that sets its readers' comments as plain paragraphs under a "3 Comments" heading,
/// in the post's own container and with no class to tell them apart (Movable Type,
/// TypePad): the thread is not the article, however long it runs, and its words never
/// alert. A subheading that only reads like one ("Response", in an article about HTTP)
/// titles a part of the article.
#[test]
fn comments_under_their_heading_are_not_the_article() {
    let comment = "<p>I sailed into that harbour last summer and the old quay was already \
                   crumbling; the ferries to Venezuela had to anchor outside and wait for a \
                   berth for hours.</p>";
    for heading in [
        "3 Comments",
        "Comments (3)",
        "One response to \u{201c}Quay\u{201d}",
    ] {
        let article = harbour_page(&format!(
            "{HARBOUR}{HARBOUR}<h2>{heading}</h2>{comment}{comment}{comment}{comment}"
        ));
        assert!(article.text.ends_with("with the city."), "{}", article.text);
        assert_eq!(alerts(&article, "Venezuela"), 0, "{heading}");
        assert_eq!(alerts(&article, "harbour"), 1);
    }
    let article = harbour_page(&format!("{HARBOUR}{HARBOUR}<h2>Response</h2>{comment}"));
    assert_eq!(alerts(&article, "Venezuela"), 1, "{}", article.text);
}

/// Other posts offered under a "You may also like..." heading, their excerpts longer than
/// the article itself: not the article, and their words never alert.
#[test]
fn posts_offered_to_read_next_are_not_the_article() {
    let teaser = "<p>Another post, about the ports of Venezuela and the ships that wait outside \
                  them for weeks, with a long excerpt that runs on and on.</p>";
    for heading in ["You may also like...", "Você pode gostar:"] {
        let article = harbour_page(&format!(
            "{HARBOUR}{HARBOUR}<h3>{heading}</h3>{}",
            teaser.repeat(5)
        ));
        assert!(article.text.ends_with("with the city."), "{}", article.text);
        assert_eq!(alerts(&article, "Venezuela"), 0, "{heading}");
    }
}

/// A box that asks the reader to subscribe, set between the article's paragraphs in a
/// container with no telling class: its heading, its pitch and its form are not the article,
/// and a watch on their words never fires. A section of the article about newsletters,
/// longer than any such box, is the article.
#[test]
fn a_sign_up_box_between_the_paragraphs_is_not_the_article() {
    for heading in [
        "<h3>Sign up for the Harbour Daily newsletter</h3>",
        "<h3>Newsletter abonnieren</h3>",
        // A page builder's heading.
        "<div class=\"elementor-heading-title\">Join Our Newsletter</div>",
    ] {
        let article = harbour_page(&format!(
            "{HARBOUR}<div class=\"factbox\">{heading}<p>Never miss the latest on \
             Venezuela: news from the ports in your inbox every morning.</p>\
             <form><input type=\"email\"><button>Go</button></form></div>{HARBOUR}"
        ));
        assert_eq!(article.text.matches("harbour authority").count(), 2);
        assert!(!article.text.contains("inbox"), "{}", article.text);
        assert_eq!(alerts(&article, "Venezuela"), 0, "{heading}");
    }
    let section = "<p>The port's newsletter, sent to shippers since 1998, told them first of \
                   the strikes in Venezuela, of the new quay's delays and of the fees the \
                   harbour authority meant to raise; its editor kept every issue on file, and \
                   the archive now fills a room of the old customs house, open to readers on \
                   Fridays, where historians of the port come to read what the shippers \
                   were told in the years of the dispute, and what they were not told.</p>";
    let article = harbour_page(&format!(
        "{HARBOUR}<div><h3>Subscribe to the port's newsletter</h3>{section}{HARBOUR}</div>"
    ));
    assert!(article.text.contains("customs house"), "{}", article.text);
    assert_eq!(alerts(&article, "Venezuela"), 1);
}

/// The author's box under a post (`div.post-author-bio`, `div.authorinfo`, `div#author`):
/// the author's life is not the article, and a watch on a word of it never fires.
#[test]
fn the_author_box_is_not_the_article() {
    for class in [
        "post-author-bio",
        "authorinfo",
        "_authorDescription_15srf_27",
    ] {
        let article = harbour_page(&format!(
            "{HARBOUR}{HARBOUR}<div class=\"{class}\"><p>Ana Ruiz covers ports and \
             shipping; before joining the paper she reported from Venezuela for ten years \
             and wrote a book on its oil terminals.</p></div>"
        ));
        assert!(article.text.ends_with("with the city."), "{}", article.text);
        assert_eq!(alerts(&article, "Venezuela"), 0, "{class}");
    }
    // A box named `author` alone, by its id or a class of that word, holding a bio.
    for named in ["id=\"author\" class=\"post\"", "class=\"author\""] {
        let article = harbour_page(&format!(
            "{HARBOUR}{HARBOUR}<div {named}><p>Ana Ruiz covers ports and shipping; before \
             joining the paper she reported from Venezuela for ten years, wrote a book on its \
             oil terminals and taught at the journalism school.</p></div>"
        ));
        assert!(article.text.ends_with("with the city."), "{}", article.text);
        assert_eq!(alerts(&article, "Venezuela"), 0, "{named}");
    }
}

/// Sections named in BEM style whose modifier says they hold an ad slot
/// (`Report__Section--Ads`) are the article's sections, not ads: a watch on their words
/// alerts. A box named an ad by its block (`AdSlot--sticky`) is still an ad.
#[test]
fn a_section_that_holds_an_ad_slot_is_not_an_ad() {
    let sections: String = (1..=3)
        .map(|n| {
            format!(
                "<section class=\"Report__Section Report__Section--Ads\"><h2>Part {n}</h2>\
                 {HARBOUR}{HARBOUR}</section>"
            )
        })
        .collect();
    let article = harbour_page(&format!(
        "{sections}<div class=\"AdSlot AdSlot--sticky\"><p>Cheap flights to Venezuela, \
         book today and save on every route this spring.</p></div>"
    ));
    assert_eq!(
        article.text.matches("harbour authority").count(),
        6,
        "{}",
        article.text
    );
    assert_eq!(alerts(&article, "harbour"), 1);
    assert_eq!(alerts(&article, "Venezuela"), 0);
}

/// A shop's product page sets the description inside the order form: a form holding three
/// paragraphs of prose is the page's text, not a search box, and a watch on it alerts. A
/// search form's words still never do.
#[test]
fn a_product_form_holding_prose_is_the_page() {
    let paragraph = "A warm double-layer fleece blanket for dogs and cats, embroidered with \
                     the name of your choice in thread that keeps its colour wash after wash.";
    // Shop terms fill the footer: the form holds less than half the page's text.
    let terms = "<p>Orders ship within three working days; returns are free within thirty \
                 days of delivery, and the terms of sale apply to every order.</p>";
    let html = format!(
        "<html><head><title>Blanket</title></head><body><nav><a href=\"/\">Home</a></nav>\
         <form class=\"search\"><input name=\"q\"><label>Search Venezuela gifts</label></form>\
         <main><article><h1>Blanket</h1><form class=\"productform\"><div>\
         <p>{paragraph}</p><p>{paragraph}</p><p>{paragraph}</p>\
         <button>Add to basket</button></div></form></article></main>\
         <footer>{terms}{terms}{terms}{terms}</footer></body></html>"
    );
    let article = clean::extract_article(&html);
    assert_eq!(
        article.text.matches("fleece blanket").count(),
        3,
        "{}",
        article.text
    );
    assert_eq!(alerts(&article, "embroidered"), 1);
    assert_eq!(alerts(&article, "Venezuela"), 0);
}

#[test]
fn closing_bio_reading_list_and_call_to_follow() {
    check("closing-section");
}
