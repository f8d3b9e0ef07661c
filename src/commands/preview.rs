//! `preview SOURCE`: what a poll would read from a source and which watches would match,
//! without storing or alerting; `--explain` says why each watch does or does not match.

use std::io::Write;

use serde_json::{Value, json};

use super::read_source;
use crate::app;
use crate::config::Config;
use crate::fetch::Fetcher;
use crate::matcher::{Scope, Verdict};
use crate::model::{Article, Item, SourceKind};
use crate::pipeline::{self, Explanation, Reading};

/// One item as a poll would match it: its article, and the HTML it was cleaned from (the
/// page, or the feed item's own).
struct Entry {
    item: Item,
    article: Article,
    html: String,
    /// The text is the item's page's article (a `full_text` feed), not the feed's.
    from_page: bool,
}

/// `preview SOURCE [--explain]`: SOURCE is a configured source's name or URL (its name,
/// tags and `full_text` apply as in a poll), another URL, or a file.
pub async fn preview(
    config: &Config,
    source: &str,
    json: bool,
    explain: bool,
) -> anyhow::Result<()> {
    let fetcher = Fetcher::new(&app::fetch_options(config))?;
    let watchlist = app::watchlist(config)?;
    let configured = config
        .sources
        .iter()
        .find(|s| s.url.as_str() == source || s.name == source);
    let location = configured.map_or_else(|| source.to_string(), |s| s.url.to_string());
    let mut entries = read_entries(&location, &fetcher).await?;
    if let Some(s) = configured
        && s.kind == (SourceKind::Feed { full_text: true })
    {
        read_pages(
            &fetcher,
            &s.url,
            &mut entries,
            config.fetch.max_pages_per_poll,
        )
        .await;
    }
    let (name, tags) = configured.map_or((source, &[][..]), |s| (s.name.as_str(), &s.tags[..]));
    let (name, tags) = (name.to_string(), tags.to_vec());
    let explained = tokio::task::spawn_blocking(move || {
        let scope = Scope {
            source: &name,
            tags: &tags,
        };
        let explained: Vec<Vec<Explanation>> = entries
            .iter()
            .map(|e| pipeline::explain(&watchlist.matcher, scope, &e.article, &e.html))
            .collect();
        (entries, explained)
    })
    .await?;
    let mut out = std::io::stdout().lock();
    for (entry, explanations) in explained.0.iter().zip(&explained.1) {
        if json {
            writeln!(out, "{}", entry_json(source, entry, explanations, explain))?;
        } else {
            print_entry(&mut out, entry, explanations, explain)?;
        }
    }
    Ok(())
}

/// The items SOURCE holds: a feed's, or a page as one item.
async fn read_entries(location: &str, fetcher: &Fetcher) -> anyhow::Result<Vec<Entry>> {
    let (body, content_type, url) = read_source(location, fetcher).await?;
    let reading =
        tokio::task::spawn_blocking(move || pipeline::read(&body, content_type.as_deref(), &url))
            .await??;
    Ok(match reading {
        Reading::Feed(items) => items
            .into_iter()
            .map(|(item, article)| Entry {
                html: item.html.clone(),
                item,
                article,
                from_page: false,
            })
            .collect(),
        Reading::Page {
            item,
            article,
            feeds,
            html,
        } => {
            for feed in feeds {
                eprintln!(
                    "note: this page advertises a feed: {feed} (a [[feed]] with this page's URL polls it)"
                );
            }
            vec![Entry {
                item: *item,
                article: *article,
                html,
                from_page: true,
            }]
        }
    })
}

/// A `full_text` feed: each item's page, fetched and extracted as a poll does (at most
/// `max_pages`); an item whose page fails keeps the feed's text, as in a poll.
async fn read_pages(fetcher: &Fetcher, listed: &url::Url, entries: &mut [Entry], max_pages: usize) {
    for entry in entries
        .iter_mut()
        .filter(|e| e.item.url.is_some())
        .take(max_pages)
    {
        match pipeline::article_page(fetcher, listed, &entry.item).await {
            Ok(Some((html, page))) => {
                (entry.item, entry.article) = pipeline::with_page(&entry.item, &page);
                entry.html = html;
                entry.from_page = true;
            }
            Ok(None) => {}
            Err(e) => eprintln!("note: {e}; the feed's text is used for this item"),
        }
    }
}

fn entry_json(source: &str, entry: &Entry, explanations: &[Explanation], explain: bool) -> Value {
    let matches: Vec<Value> = explanations
        .iter()
        .filter_map(|e| match &e.verdict {
            Verdict::Match(h) => {
                Some(json!({"watch": h.watch, "terms": h.terms, "snippet": h.snippet}))
            }
            _ => None,
        })
        .collect();
    let published = entry
        .item
        .published
        .map(|p| p.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let mut v = json!({
        "source": source, "title": entry.article.title, "url": entry.item.url, "published": published,
        "text": entry.article.text, "full_text": entry.from_page, "matches": matches,
    });
    if explain {
        v["explain"] = explanations.iter().map(explanation_json).collect();
    }
    v
}

fn explanation_json(e: &Explanation) -> Value {
    let mut v = match &e.verdict {
        Verdict::Match(h) => {
            json!({"watch": e.watch, "verdict": "match", "terms": h.terms, "snippet": h.snippet})
        }
        Verdict::Excluded(by) => {
            json!({"watch": e.watch, "verdict": "excluded", "excluded_by": by})
        }
        Verdict::NoTerm => json!({"watch": e.watch, "verdict": "no term"}),
        Verdict::OutOfScope => json!({"watch": e.watch, "verdict": "other sources"}),
    };
    if !e.removed.is_empty() {
        v["removed"] = e
            .removed
            .iter()
            .map(|(place, h)| json!({"where": place, "terms": h.terms, "snippet": h.snippet}))
            .collect();
    }
    v
}

fn print_entry(
    out: &mut impl Write,
    entry: &Entry,
    explanations: &[Explanation],
    explain: bool,
) -> anyhow::Result<()> {
    writeln!(out, "{}", entry.article.title)?;
    if let Some(u) = &entry.item.url {
        writeln!(out, "  {u}")?;
    }
    if let Some(p) = entry.item.published {
        let p = p.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        writeln!(out, "  published {p}")?;
    }
    writeln!(
        out,
        "  {} characters of text{}",
        entry.article.text.chars().count(),
        if entry.from_page && !entry.item.html.is_empty() {
            " (from the item's page)"
        } else {
            ""
        }
    )?;
    for e in explanations {
        match &e.verdict {
            Verdict::Match(h) => writeln!(
                out,
                "  MATCH {} [{}]: {}",
                h.watch,
                h.terms.join(", "),
                h.snippet
            )?,
            _ if !explain => {}
            Verdict::Excluded(by) => writeln!(out, "  no    {}: excluded by `{by}`", e.watch)?,
            Verdict::OutOfScope => writeln!(
                out,
                "  no    {}: not for this source (the watch's sources or tags)",
                e.watch
            )?,
            Verdict::NoTerm => {
                writeln!(out, "  no    {}: no term in the article text", e.watch)?;
                for (place, h) in &e.removed {
                    writeln!(
                        out,
                        "        [{}] only in text cleaning removed, in {place}: {}",
                        h.terms.join(", "),
                        h.snippet
                    )?;
                }
            }
        }
    }
    writeln!(out)?;
    Ok(())
}
