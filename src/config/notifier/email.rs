//! An `email` notifier's table: the SMTP URL, sender and recipients, parsed once.

use lettre::message::Mailbox;

use crate::config::checks::{Invalid, at, env_name};
use crate::config::schema::NotifierConfig;

/// The keys that only an email notifier takes.
pub(super) const KEYS: &[&str] = &[
    "smtp",
    "password_env",
    "insecure_auth",
    "from",
    "to",
    "subject_template",
    "text_template",
    "html_template",
];

/// Where and as whom an email notifier sends.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// The server, its security and the user to log in as.
    pub smtp: SmtpTarget,
    /// The variable that holds the SMTP password, read at send time.
    pub password_env: Option<String>,
    /// The sender.
    pub from: Mailbox,
    /// The recipients.
    pub to: Vec<Mailbox>,
}

/// How to reach the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: plain text (a local relay).
    None,
    /// `smtps://`: TLS from the first byte (port 465).
    Tls,
    /// `smtp+starttls://`: upgrade with STARTTLS, required (port 587).
    StartTls,
}

/// A parsed `smtp…://[user@]host[:port]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpTarget {
    /// Plain, TLS from the start, or STARTTLS.
    pub security: Security,
    /// Host name or address.
    pub host: String,
    /// Port (25, 465 or 587 by default).
    pub port: u16,
    /// User to log in as, percent-decoded.
    pub user: Option<String>,
}

impl SmtpTarget {
    /// Parses `smtp://`, `smtps://` or `smtp+starttls://[user@]host[:port]`.
    pub fn parse(s: &str) -> Result<SmtpTarget, String> {
        let bad = |why: &str| format!("invalid smtp URL \"{s}\": {why}");
        let url = url::Url::parse(s).map_err(|e| bad(&e.to_string()))?;
        let (security, default_port) = match url.scheme() {
            "smtp" => (Security::None, 25),
            "smtps" => (Security::Tls, 465),
            "smtp+starttls" => (Security::StartTls, 587),
            _ => return Err(bad("use smtp://, smtps:// or smtp+starttls://")),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?;
        let user = (!url.username().is_empty()).then(|| {
            // The user is often an address itself (alerts@example.org@smtp.example.org).
            percent_decode(url.username())
        });
        Ok(SmtpTarget {
            security,
            host: host.trim_matches(['[', ']']).to_string(),
            port: url.port().unwrap_or(default_port),
            user,
        })
    }
}

/// Decodes `%XX` escapes only: a URL's userinfo is not form data, so `+` stays a plus
/// (`alerts+feeds@example.org` is one address).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Checks an email notifier's table and types its values.
pub(super) fn settings(
    n: &NotifierConfig,
    missing: impl Fn(&str) -> Invalid,
) -> Result<EmailSettings, Invalid> {
    let smtp = n.smtp.as_ref().ok_or_else(|| missing("smtp"))?;
    let smtp_target = SmtpTarget::parse(smtp.get_ref()).map_err(|e| at(smtp, e))?;
    let from = n.from.as_ref().ok_or_else(|| missing("from"))?;
    let from_box = mailbox(from.get_ref()).map_err(|e| at(from, e))?;
    let to = n.to.as_ref().ok_or_else(|| missing("to"))?;
    if to.get_ref().is_empty() {
        return Err(at(
            to,
            format!(
                "notifier \"{}\" has no recipients in `to`",
                n.name.get_ref()
            ),
        ));
    }
    let to_boxes = to
        .get_ref()
        .iter()
        .map(|addr| mailbox(addr).map_err(|e| at(to, e)))
        .collect::<Result<_, _>>()?;
    if let Some(env) = &n.password_env {
        cleartext_login(
            &smtp_target,
            n.insecure_auth.as_ref().is_some_and(|i| *i.get_ref()),
        )
        .map_err(|e| at(env, format!("notifier \"{}\": {e}", n.name.get_ref())))?;
    }
    Ok(EmailSettings {
        smtp: smtp_target,
        password_env: n.password_env.as_ref().map(env_name).transpose()?,
        from: from_box,
        to: to_boxes,
    })
}

/// A password goes over plain `smtp://` only to this machine, or when the notifier says
/// `insecure_auth = true`: anyone on the path could read it.
fn cleartext_login(target: &SmtpTarget, insecure_auth: bool) -> Result<(), String> {
    let loopback = target.host.eq_ignore_ascii_case("localhost")
        || target
            .host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if target.security != Security::None || loopback || insecure_auth {
        return Ok(());
    }
    Err(format!(
        "password_env with smtp:// would send the password in the clear to {}; use smtps:// or \
         smtp+starttls://, or set insecure_auth = true if that network is yours",
        target.host
    ))
}

fn mailbox(addr: &str) -> Result<Mailbox, String> {
    addr.parse()
        .map_err(|e| format!("invalid email address \"{addr}\": {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        let t =
            SmtpTarget::parse("smtp+starttls://alerts@example.org@smtp.example.org:587").unwrap();
        assert_eq!(t.security, Security::StartTls);
        assert_eq!(t.host, "smtp.example.org");
        assert_eq!(t.port, 587);
        assert_eq!(t.user.as_deref(), Some("alerts@example.org"));
        let t = SmtpTarget::parse("smtps://mail.example.org").unwrap();
        assert_eq!((t.security, t.port, t.user), (Security::Tls, 465, None));
        assert_eq!(
            SmtpTarget::parse("smtp://127.0.0.1:2525").unwrap().port,
            2525
        );
        assert!(SmtpTarget::parse("http://example.org").is_err());
        assert!(SmtpTarget::parse("smtp://").is_err());
    }

    #[test]
    fn smtp_user_keeps_plus_and_decodes_escapes() {
        let t = SmtpTarget::parse("smtp://alerts+feeds@example.org@127.0.0.1:25").unwrap();
        assert_eq!(t.user.as_deref(), Some("alerts+feeds@example.org"));
        let t = SmtpTarget::parse("smtp://a%20b%40example.org@127.0.0.1:25").unwrap();
        assert_eq!(t.user.as_deref(), Some("a b@example.org"));
    }
}
