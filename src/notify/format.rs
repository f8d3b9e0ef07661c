//! What a message looks like: one alert or a digest of several, as JSON (the contract in
//! README), Slack, Discord, ntfy or Telegram bodies, and email text.

use serde_json::{Value, json};

use super::message::header;
use super::render::one_line;
use crate::config::WebhookFormat;
use crate::model::Message;
use crate::text::{escape_html as escape, truncate_chars};

/// Discord shows at most 10 embeds per message.
const DISCORD_EMBEDS: usize = 10;
/// Telegram's limit on a message's text.
const TELEGRAM_CHARS: usize = 4096;

/// The JSON body of a webhook call in `format`. `extra` carries what the format needs from
/// the config (ntfy's topic, Telegram's chat id).
pub(crate) fn webhook_body(format: WebhookFormat, msg: &Message<'_>, extra: Option<&str>) -> Value {
    match format {
        WebhookFormat::Json if msg.is_digest() => {
            json!({"id": msg.id, "kind": "digest", "alerts": msg.alerts})
        }
        WebhookFormat::Json => serde_json::to_value(msg.first()).expect("alerts serialise"),
        WebhookFormat::Slack => json!({ "text": slack_text(msg) }),
        WebhookFormat::Discord => {
            let embeds: Vec<Value> = msg
                .alerts
                .iter()
                .take(DISCORD_EMBEDS)
                .map(|a| {
                    json!({"title": truncate_chars(&a.title, 256), "url": a.url, "description": truncate_chars(&a.snippet, 4096),
                           "footer": {"text": truncate_chars(&format!("{} · {}", a.watch_label(), a.source), 2048)}})
                })
                .collect();
            let more = msg.alerts.len().saturating_sub(DISCORD_EMBEDS);
            let mut content = header(msg);
            if more > 0 {
                content.push_str(&format!(" ({more} more not shown)"));
            }
            json!({"content": truncate_chars(&content, 2000), "embeds": embeds, "allowed_mentions": {"parse": []}})
        }
        WebhookFormat::Ntfy => {
            let a = msg.first();
            let message = if msg.is_digest() {
                msg.alerts
                    .iter()
                    .map(one_line)
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                a.snippet.clone()
            };
            let mut body = json!({"topic": extra.unwrap_or_default(), "title": header(msg), "message": message, "tags": ["newspaper"]});
            if let (false, Some(url)) = (msg.is_digest(), &a.url) {
                body["click"] = json!(url);
            }
            body
        }
        WebhookFormat::Telegram => {
            let text: Vec<String> = msg
                .alerts
                .iter()
                .map(|a| {
                    let title = match &a.url {
                        Some(u) => format!("<a href=\"{}\">{}</a>", escape(u), escape(&a.title)),
                        None => escape(&a.title),
                    };
                    format!(
                        "<b>{}</b>: {title}\n{}\n<i>{}</i>",
                        escape(&a.watch_label()),
                        escape(&a.snippet),
                        escape(&a.source)
                    )
                })
                .collect();
            json!({"chat_id": extra.unwrap_or_default(), "text": truncate_chars(&text.join("\n\n"), TELEGRAM_CHARS),
                   "parse_mode": "HTML", "disable_web_page_preview": msg.is_digest()})
        }
    }
}

/// Slack mrkdwn: `&`, `<` and `>` escaped, links as `<url|text>`.
fn slack_text(msg: &Message<'_>) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let lines: Vec<String> = msg
        .alerts
        .iter()
        .map(|a| {
            let title = match &a.url {
                Some(u) => format!("<{}|{}>", esc(u), esc(&a.title).replace('|', "¦")),
                None => esc(&a.title),
            };
            format!(
                "*{}*: {title}\n>{}\n_{}_",
                esc(&a.watch_label()),
                esc(&a.snippet),
                esc(&a.source)
            )
        })
        .collect();
    let mut text = lines.join("\n\n");
    if msg.is_digest() {
        text.insert_str(0, &format!("*{}*\n\n", esc(&header(msg))));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Alert;
    use crate::model::AlertKind;

    fn alert(watch: &str, title: &str) -> Alert {
        Alert {
            id: format!("id-{title}"),
            kind: AlertKind::New,
            watch: watch.into(),
            watches: vec![watch.into()],
            source: "Wire <1>".into(),
            title: title.into(),
            url: Some("https://e.org/a?x=1&y=2".into()),
            published: None,
            matched: vec!["Caracas".into()],
            snippet: "In Caracas & <b>elsewhere</b>".into(),
        }
    }

    #[test]
    fn json_single_is_the_alert_and_digest_lists_them() {
        let one = [alert("w", "A")];
        let body = webhook_body(
            WebhookFormat::Json,
            &Message {
                id: "id-A",
                alerts: &one,
            },
            None,
        );
        assert_eq!(body["id"], "id-A");
        assert_eq!(body["kind"], "new");
        let two = [alert("w", "A"), alert("v", "B")];
        let body = webhook_body(
            WebhookFormat::Json,
            &Message {
                id: "d1",
                alerts: &two,
            },
            None,
        );
        assert_eq!(body["kind"], "digest");
        assert_eq!(body["alerts"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn chat_formats_escape_and_link() {
        let one = [alert("w", "A|B")];
        let msg = Message {
            id: "x",
            alerts: &one,
        };
        let slack = webhook_body(WebhookFormat::Slack, &msg, None)["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            slack.contains("<https://e.org/a?x=1&amp;y=2|A¦B>") && slack.contains("&lt;b&gt;"),
            "{slack}"
        );
        let discord = webhook_body(WebhookFormat::Discord, &msg, None);
        assert_eq!(discord["embeds"][0]["url"], "https://e.org/a?x=1&y=2");
        assert_eq!(discord["allowed_mentions"]["parse"], json!([]));
        let ntfy = webhook_body(WebhookFormat::Ntfy, &msg, Some("news"));
        assert_eq!(
            (ntfy["topic"].as_str(), ntfy["click"].as_str()),
            (Some("news"), Some("https://e.org/a?x=1&y=2"))
        );
        let tg = webhook_body(WebhookFormat::Telegram, &msg, Some("-100"));
        assert_eq!(tg["chat_id"], "-100");
        assert!(
            tg["text"].as_str().unwrap().contains("&lt;b&gt;elsewhere")
                && tg["parse_mode"] == "HTML"
        );
    }

    #[test]
    fn digests_carry_every_alert() {
        let many: Vec<Alert> = (0..12).map(|i| alert("w", &format!("T{i}"))).collect();
        let msg = Message {
            id: "d",
            alerts: &many,
        };
        let discord = webhook_body(WebhookFormat::Discord, &msg, None);
        assert_eq!(discord["embeds"].as_array().unwrap().len(), 10);
        assert!(
            discord["content"].as_str().unwrap().contains("12 alerts")
                && discord["content"].as_str().unwrap().contains("2 more")
        );
        assert_eq!(
            webhook_body(WebhookFormat::Ntfy, &msg, None)["message"]
                .as_str()
                .unwrap()
                .lines()
                .count(),
            12
        );
    }
}
