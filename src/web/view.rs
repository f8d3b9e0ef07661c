//! The pages' HTML: minijinja templates compiled into the binary, escaping everything they
//! print (a value is never marked safe unless this module's code built it).

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("overview.html", include_str!("templates/overview.html")),
    ("sources.html", include_str!("templates/sources.html")),
    ("alerts.html", include_str!("templates/alerts.html")),
    ("watches.html", include_str!("templates/watches.html")),
    ("login.html", include_str!("templates/login.html")),
];

pub(super) struct Views {
    env: Environment<'static>,
}

impl Views {
    pub(super) fn new() -> Views {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .expect("the status page's templates compile (a unit test renders each)");
        }
        Views { env }
    }

    pub(super) fn render(&self, name: &str, ctx: Value) -> anyhow::Result<String> {
        Ok(self.env.get_template(name)?.render(ctx)?)
    }
}
