//! OPML: feeds in from another reader (`opml import` prints `[[feed]]` blocks to paste into
//! the config), and the configured feeds out (`opml export`, OPML 2.0).

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::model::{Source, SourceKind};

/// `[[feed]]` blocks for every outline with an `xmlUrl`; enclosing outlines (folders)
/// become tags. Names are made unique. The document is repaired first, as feeds are
/// (encodings, HTML entities, DOCTYPEs).
pub fn import(opml: &str) -> Result<String, String> {
    let text = crate::parse::repair_xml(opml.as_bytes());
    let mut reader = Reader::from_str(&text);
    let mut folders: Vec<Option<String>> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("not valid OPML at byte {}: {e}", reader.buffer_position()))?;
        let (e, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) if e.local_name().as_ref().eq_ignore_ascii_case("outline") => {
                folders.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        if !e.local_name().as_ref().eq_ignore_ascii_case("outline") {
            continue;
        }
        let attr = |name: &str| -> Option<String> {
            e.attributes()
                .flatten()
                .find(|a| a.key.local_name().as_ref().eq_ignore_ascii_case(name))
                .and_then(|a| {
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .ok()
                        .map(|v| v.trim().to_string())
                })
                .filter(|v| !v.is_empty())
        };
        let url = attr("xmlUrl");
        if !empty {
            // A folder (an outline without a feed) names the feeds inside it.
            folders.push(if url.is_none() {
                attr("text").or_else(|| attr("title"))
            } else {
                None
            });
        }
        let Some(url) = url else { continue };
        let title = attr("title")
            .or_else(|| attr("text"))
            .unwrap_or_else(|| url.clone());
        let mut name = title.clone();
        let mut n = 2;
        while !seen.insert(name.clone()) {
            name = format!("{title} ({n})");
            n += 1;
        }
        out.push_str(&format!(
            "[[feed]]\nname = {}\nurl = {}\n",
            toml_str(&name),
            toml_str(&url)
        ));
        let tags: Vec<String> = folders.iter().flatten().map(|f| toml_str(f)).collect();
        if !tags.is_empty() {
            out.push_str(&format!("tags = [{}]\n", tags.join(", ")));
        }
        out.push('\n');
    }
    Ok(out)
}

/// The configured feeds as an OPML 2.0 document.
pub fn export(sources: &[Source]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head><title>feedwatch feeds</title></head>\n  <body>\n",
    );
    for s in sources
        .iter()
        .filter(|s| matches!(s.kind, SourceKind::Feed { .. }))
    {
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{0}\" title=\"{0}\" xmlUrl=\"{1}\"/>\n",
            xml_attr(&s.name),
            xml_attr(s.url.as_str())
        ));
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn xml_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_makes_valid_config_blocks() {
        let opml = r#"<?xml version="1.0"?><opml version="1.0"><body>
            <outline text="World"><outline type="rss" text="BBC &amp; co" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
            <outline type="rss" title="BBC &amp; co" xmlUrl="https://example.org/b.xml"/></outline>
            <outline type="rss" text="Quote &quot;Q&quot;" xmlUrl="https://example.org/q.xml"/>
            <outline text="No URL"/></body></opml>"#;
        let blocks = import(opml).unwrap();
        let config =
            crate::config::Config::parse(&blocks, std::path::Path::new("opml.toml")).unwrap();
        let names: Vec<&str> = config.sources.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["BBC & co", "BBC & co (2)", "Quote \"Q\""]);
        assert_eq!(config.sources[0].tags, ["World"]);
        assert!(config.sources[2].tags.is_empty());
    }

    #[test]
    fn export_round_trips() {
        let src = Source {
            name: "A & B".into(),
            url: url::Url::parse("https://e.org/f?a=1&b=2").unwrap(),
            interval: std::time::Duration::from_secs(900),
            kind: SourceKind::Feed { full_text: false },
            tags: vec![],
            backlog: None,
        };
        let opml = export(&[src]);
        assert!(opml.contains("xmlUrl=\"https://e.org/f?a=1&amp;b=2\""));
        assert!(import(&opml).unwrap().contains("name = \"A & B\""));
    }
}
