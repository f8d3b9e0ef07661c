//! The words of an alert: the console line, the email subject and its text and HTML bodies.
//! Every field is escaped for where it goes; header text loses control characters.

use crate::model::Alert;
use crate::text::{escape_html as escape, single_line};
use chrono_tz::Tz;

/// An RFC 3339 time as the reader's clock shows it (`2026-01-02 15:05 CET (+01:00)`) when
/// the notifier names a time zone; as given otherwise (UTC).
pub(crate) fn shown_time(rfc3339: &str, tz: Option<Tz>) -> String {
    match (tz, chrono::DateTime::parse_from_rfc3339(rfc3339)) {
        (Some(tz), Ok(t)) => t
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M %Z (%:z)")
            .to_string(),
        _ => rfc3339.to_string(),
    }
}

/// `venezuela | Clash Report | Title | https://… | matched: Venezuela, Caracas`
pub(crate) fn one_line(alert: &Alert) -> String {
    let mut fields = vec![
        single_line(&alert.watch_label()),
        single_line(&alert.source),
        single_line(&alert.title),
    ];
    if let Some(url) = &alert.url {
        fields.push(single_line(url));
    }
    fields.push(format!(
        "matched: {}",
        single_line(&alert.matched.join(", "))
    ));
    fields.join(" | ")
}

pub(crate) fn text_body(alert: &Alert, tz: Option<Tz>) -> String {
    let mut out = String::new();
    out.push_str(&alert.title);
    out.push('\n');
    if let Some(url) = &alert.url {
        out.push_str(url);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&alert.snippet);
    out.push_str("\n\n");
    out.push_str(&format!(
        "{:<11}{} (matched: {})\n",
        watch_heading(alert),
        alert.watch_label(),
        alert.matched.join(", ")
    ));
    out.push_str(&format!("Source:    {}\n", alert.source));
    if let Some(p) = &alert.published {
        out.push_str(&format!("Published: {}\n", shown_time(p, tz)));
    }
    out.push_str(&format!("Alert id:  {}\n", alert.id));
    out
}

/// `Watch:`, or `Watches:` for an article several watches matched.
fn watch_heading(alert: &Alert) -> &'static str {
    if alert.watch_names().len() > 1 {
        "Watches:"
    } else {
        "Watch:"
    }
}

/// The HTML email: one block per alert (a digest has several).
pub(crate) fn html_document(msg: &crate::model::Message<'_>, tz: Option<Tz>) -> String {
    let blocks: Vec<String> = msg.alerts.iter().map(|a| html_block(a, tz)).collect();
    let heading = if msg.is_digest() {
        format!("<h1>{}</h1>\n", escape(&super::message::header(msg)))
    } else {
        String::new()
    };
    format!(
        "<!DOCTYPE html>\n<html><body>\n{heading}{}</body></html>\n",
        blocks.join("<hr>\n")
    )
}

fn html_block(alert: &Alert, tz: Option<Tz>) -> String {
    let title = escape(&alert.title);
    let heading = match &alert.url {
        Some(url) => format!("<a href=\"{}\">{title}</a>", escape(url)),
        None => title,
    };
    let mut meta = format!(
        "{} <b>{}</b> (matched: {})<br>Source: {}",
        watch_heading(alert),
        escape(&alert.watch_label()),
        escape(&alert.matched.join(", ")),
        escape(&alert.source)
    );
    if let Some(p) = &alert.published {
        meta.push_str(&format!("<br>Published: {}", escape(&shown_time(p, tz))));
    }
    format!(
        "<h2>{heading}</h2>\n<p>{}</p>\n<p style=\"color:#555\">{meta}</p>\n\
         <p style=\"color:#999;font-size:small\">feedwatch alert {}</p>\n",
        highlight(&alert.snippet, &alert.matched),
        escape(&alert.id)
    )
}

/// The snippet, HTML-escaped, with each matched term wrapped in `<mark>`.
pub(crate) fn highlight(snippet: &str, terms: &[String]) -> String {
    crate::matcher::split_at_terms(snippet, terms)
        .into_iter()
        .map(|(piece, term)| {
            if term {
                format!("<mark>{}</mark>", escape(piece))
            } else {
                escape(piece)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AlertKind;
    use crate::notify::message::subject;

    fn alert() -> Alert {
        Alert {
            id: "abc".into(),
            kind: AlertKind::New,
            watch: "venezuela".into(),
            watches: vec!["venezuela".into()],
            source: "Clash <Report>".into(),
            title: "Evil\r\nBcc: victim@example.org <script>".into(),
            url: Some("https://e.org/a?x=1&y=\"2\"".into()),
            published: None,
            matched: vec!["Nicolas Maduro".into()],
            snippet: "…said Nicolás Maduro & co <b>…".into(),
        }
    }

    #[test]
    fn subject_has_no_line_breaks() {
        assert_eq!(
            subject(&alert()),
            "[feedwatch] venezuela: Evil Bcc: victim@example.org <script>"
        );
    }

    #[test]
    fn html_escapes_every_field_and_marks_terms() {
        let one = [alert()];
        let html = html_document(
            &crate::model::Message {
                id: "abc",
                alerts: &one,
            },
            None,
        );
        assert!(html.contains("Evil Bcc") || html.contains("Evil\r\nBcc"));
        assert!(!html.contains("<script>") && !html.contains("<b>…") && !html.contains("<Report>"));
        assert!(html.contains("href=\"https://e.org/a?x=1&amp;y=&quot;2&quot;\""));
        assert!(
            html.contains("said <mark>Nicolás Maduro</mark> &amp; co &lt;b&gt;"),
            "{html}"
        );
    }

    #[test]
    fn times_show_in_the_notifier_zone() {
        let mut a = alert();
        a.published = Some("2026-01-02T14:05:00Z".into());
        let madrid: Tz = "Europe/Madrid".parse().unwrap();
        let text = text_body(&a, Some(madrid));
        assert!(
            text.contains("Published: 2026-01-02 15:05 CET (+01:00)"),
            "{text}"
        );
        let html = html_document(
            &crate::model::Message {
                id: "x",
                alerts: &[a.clone()],
            },
            Some(madrid),
        );
        assert!(
            html.contains("Published: 2026-01-02 15:05 CET (+01:00)"),
            "{html}"
        );
        assert!(text_body(&a, None).contains("Published: 2026-01-02T14:05:00Z"));
    }
}
