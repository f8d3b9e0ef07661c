//! The JSON-LD fallback: pages whose visible body is a paywall overlay or a script-rendered
//! shell often carry the whole text as `articleBody` in schema.org metadata.

use serde_json::Value;

/// The longest `articleBody` of an Article-like object in the page's JSON-LD blocks
/// (`@graph` and `@type` lists included).
pub(super) fn article_body<'a>(scripts: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<String> = None;
    for script in scripts {
        // Raw line breaks inside strings are common in the wild and invalid JSON: retried as
        // spaces.
        let parsed = serde_json::from_str::<Value>(script.trim()).or_else(|_| {
            serde_json::from_str::<Value>(&script.trim().replace(['\n', '\r', '\t'], " "))
        });
        let Ok(value) = parsed else { continue };
        let mut stack = vec![&value];
        while let Some(v) = stack.pop() {
            match v {
                Value::Array(items) => stack.extend(items),
                Value::Object(map) => {
                    if is_article(map.get("@type"))
                        && let Some(Value::String(body)) = map.get("articleBody")
                        && best.as_ref().is_none_or(|b| body.len() > b.len())
                    {
                        best = Some(body.clone());
                    }
                    if let Some(graph) = map.get("@graph") {
                        stack.push(graph);
                    }
                }
                _ => {}
            }
        }
    }
    best.map(|b| paragraphs(&b)).filter(|b| !b.is_empty())
}

fn is_article(t: Option<&Value>) -> bool {
    let named = |s: &str| {
        s.ends_with("Article") || s == "BlogPosting" || s == "Report" || s == "LiveBlogPosting"
    };
    match t {
        Some(Value::String(s)) => named(s),
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str().is_some_and(named)),
        _ => false,
    }
}

/// `articleBody` is plain text (sometimes with HTML): one paragraph per line.
fn paragraphs(body: &str) -> String {
    let text = if body.contains('<') {
        super::clean_fragment(body)
    } else {
        body.to_string()
    };
    text.lines()
        .map(crate::text::fold_whitespace)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_article_bodies_in_graphs_and_lists() {
        let graph = r#"{"@context":"https://schema.org","@graph":[{"@type":"WebPage"},
            {"@type":["NewsArticle"],"headline":"H","articleBody":"First line.\nSecond  line."}]}"#;
        assert_eq!(
            super::article_body([graph].into_iter()).as_deref(),
            Some("First line.\n\nSecond line.")
        );
        let plain = r#"[{"@type":"Organization"},{"@type":"BlogPosting","articleBody":"<p>Hi <b>there</b></p>"}]"#;
        assert_eq!(
            super::article_body([plain, "not json"].into_iter()).as_deref(),
            Some("Hi there")
        );
        assert_eq!(
            super::article_body([r#"{"@type":"Recipe","articleBody":"x"}"#].into_iter()),
            None
        );
    }
}
