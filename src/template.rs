//! User templates (minijinja) for email subjects and bodies and custom webhook bodies.
//! Compiled and trial-rendered at load, so a typo is a config error, not a lost alert;
//! rendering is bounded by fuel, so no template can loop forever.
//!
//! Variables: `alert` (the first alert: id, kind, watch, watches, source, title, url, published,
//! matched, snippet), `alerts` (all of them), `digest` (true for several), `count`, `id`
//! (the message id). The `html` template escapes what it prints; the `tojson` filter
//! writes JSON.

use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};

use crate::model::Message;
use crate::model::{Alert, AlertKind};

/// Instructions a template may run per render.
const FUEL: u64 = 200_000;

#[derive(Clone)]
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let names: Vec<&str> = self.env.templates().map(|(name, _)| name).collect();
        write!(f, "Templates({names:?})")
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// No templates yet.
    pub fn new() -> Templates {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env.set_auto_escape_callback(|name| {
            if name == "html" {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        Templates { env }
    }

    /// Compiles the template for `name` (`subject`, `text`, `html` or `body`) and renders it
    /// once for a sample alert and a sample digest, so unknown variables and filters show now
    /// rather than at 3 a.m.
    pub fn add(&mut self, name: &'static str, source: String) -> Result<(), String> {
        self.env
            .add_template_owned(name, source)
            .map_err(|e| describe(name, &e))?;
        let sample = [sample_alert(), sample_alert()];
        for alerts in [&sample[..1], &sample[..]] {
            self.render(
                name,
                &Message {
                    id: "sample",
                    alerts,
                },
            )?;
        }
        Ok(())
    }

    pub fn has(&self, name: &str) -> bool {
        self.env.get_template(name).is_ok()
    }

    pub fn render(&self, name: &str, msg: &Message<'_>) -> Result<String, String> {
        let t = self
            .env
            .get_template(name)
            .map_err(|e| describe(name, &e))?;
        t.render(context! {
            alert => Value::from(Serde(msg.first())),
            alerts => Value::from(Serde(msg.alerts)),
            digest => msg.is_digest(),
            count => msg.alerts.len(),
            id => msg.id,
        })
        .map_err(|e| describe(name, &e))
    }
}

fn describe(name: &str, e: &minijinja::Error) -> String {
    let line = e.line().map(|l| format!(" line {l}")).unwrap_or_default();
    let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
    format!("template error in `{name}`{line}: {}{detail}", e.kind())
}

fn sample_alert() -> Alert {
    Alert {
        id: "sample".into(),
        kind: AlertKind::New,
        watch: "watch".into(),
        watches: vec!["watch".into()],
        source: "source".into(),
        title: "title".into(),
        url: Some("https://example.org/".into()),
        published: Some("2026-01-01T00:00:00Z".into()),
        matched: vec!["term".into()],
        snippet: "snippet".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(sources: Vec<(&'static str, String)>) -> Result<Templates, String> {
        let mut t = Templates::new();
        for (name, source) in sources {
            t.add(name, source)?;
        }
        Ok(t)
    }

    #[test]
    fn renders_with_escaping_only_in_html() {
        let t = compile(vec![
            (
                "subject",
                "{{ alert.watch }}: {{ alert.title }}{% if digest %} (+{{ count - 1 }}){% endif %}"
                    .into(),
            ),
            ("html", "<p>{{ alert.title }}</p>".into()),
            ("body", "{\"text\": {{ alert.title|tojson }}}".into()),
        ])
        .unwrap();
        let mut a = sample_alert();
        a.title = "A <b> & \"q\"".into();
        let one = [a.clone()];
        let msg = Message {
            id: "x",
            alerts: &one,
        };
        assert_eq!(t.render("subject", &msg).unwrap(), "watch: A <b> & \"q\"");
        assert_eq!(
            t.render("html", &msg).unwrap(),
            "<p>A &lt;b&gt; &amp; &quot;q&quot;</p>"
        );
        let body: serde_json::Value =
            serde_json::from_str(&t.render("body", &msg).unwrap()).unwrap();
        assert_eq!(body["text"], "A <b> & \"q\"");
        let two = [a.clone(), a];
        assert!(
            t.render(
                "subject",
                &Message {
                    id: "d",
                    alerts: &two
                }
            )
            .unwrap()
            .ends_with("(+1)")
        );
    }

    #[test]
    fn errors_are_found_at_load() {
        let err = compile(vec![("subject", "{{ alert.titel }}".into())])
            .err()
            .unwrap();
        assert!(
            err.contains("`subject`") && err.contains("undefined"),
            "{err}"
        );
        let err = compile(vec![("text", "{% if %}".into())]).err().unwrap();
        assert!(err.contains("`text` line 1"), "{err}");
        let err = compile(vec![(
            "body",
            "{% for i in range(1000000) %}{{ i }}{% endfor %}".into(),
        )])
        .err()
        .unwrap();
        assert!(err.contains("fuel") || err.contains("range"), "{err}");
    }
}
