//! Who may read the status page: with `[http] token_env`, whoever shows the token (a
//! `Authorization: Bearer` header, or the cookie the login form sets); without it, requests
//! addressed to a loopback name only. And the CSRF token the one form that changes state
//! carries.

use axum::Form;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use super::Web;

/// The cookie the login form sets.
const COOKIE: &str = "feedwatch_session";

/// How requests are let in.
pub(crate) struct Access {
    token: Token,
    csrf: String,
}

enum Token {
    /// No `token_env`: loopback only.
    None,
    /// The token, and the session cookie's value derived from it.
    Set { token: String, session: String },
    /// `token_env` names a variable that is not set: nobody gets in.
    Unset(String),
}

impl Access {
    /// From `[http] token_env`, read once at start.
    pub(crate) fn from_env(token_env: Option<&str>) -> Access {
        let token = match token_env {
            None => Token::None,
            Some(var) => match std::env::var(var).ok().filter(|v| !v.is_empty()) {
                Some(token) => Token::Set {
                    session: hex::encode(Sha256::digest(format!("feedwatch session\0{token}"))),
                    token,
                },
                None => Token::Unset(var.to_string()),
            },
        };
        Access {
            token,
            csrf: random_hex(),
        }
    }

    /// The token forms that change state carry.
    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether a form's CSRF token is this process's.
    pub(crate) fn csrf_ok(&self, given: &str) -> bool {
        same(given, &self.csrf)
    }

    /// Whether a token is asked for at all.
    pub(crate) fn has_token(&self) -> bool {
        !matches!(self.token, Token::None)
    }

    fn decide(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        match &self.token {
            Token::None => {
                if addressed_to_loopback(headers) {
                    Ok(())
                } else {
                    Err(Refusal::NotLoopback)
                }
            }
            Token::Unset(var) => Err(Refusal::Unset(var.clone())),
            Token::Set { token, session } => {
                let bearer = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .is_some_and(|given| same(given.trim(), token));
                if bearer || cookie(headers, COOKIE).is_some_and(|c| same(c, session)) {
                    Ok(())
                } else {
                    Err(Refusal::NoToken)
                }
            }
        }
    }
}

enum Refusal {
    NotLoopback,
    NoToken,
    Unset(String),
}

/// Lets a request through to the pages, or answers 401 (with the login form for a page),
/// or 403 for a non-loopback name without a token configured.
pub(crate) async fn require(State(web): State<Web>, request: Request, next: Next) -> Response {
    let refusal = match web.access.decide(request.headers()) {
        Ok(()) => return next.run(request).await,
        Err(r) => r,
    };
    match refusal {
        Refusal::NotLoopback => (
            StatusCode::FORBIDDEN,
            "this server answers requests addressed to localhost only; \
             set [http] token_env to serve it under other names\n",
        )
            .into_response(),
        Refusal::Unset(var) => (
            StatusCode::UNAUTHORIZED,
            format!("[http] token_env names {var}, which is not set in the daemon's environment\n"),
        )
            .into_response(),
        Refusal::NoToken if request.uri().path() == "/metrics" => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required\n",
        )
            .into_response(),
        Refusal::NoToken => login_page(&web, StatusCode::UNAUTHORIZED, None),
    }
}

/// `GET /login`.
pub(crate) async fn login_form(State(web): State<Web>) -> Response {
    if !web.access.has_token() {
        return Redirect::to("/").into_response();
    }
    login_page(&web, StatusCode::OK, None)
}

#[derive(serde::Deserialize)]
pub(crate) struct Login {
    token: String,
}

/// `POST /login`: the right token sets the session cookie.
pub(crate) async fn login(State(web): State<Web>, Form(form): Form<Login>) -> Response {
    match &web.access.token {
        Token::Set { token, session } if same(form.token.trim(), token) => (
            [(
                header::SET_COOKIE,
                format!("{COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict"),
            )],
            Redirect::to("/"),
        )
            .into_response(),
        Token::Set { .. } => login_page(
            &web,
            StatusCode::UNAUTHORIZED,
            Some("That is not the token."),
        ),
        _ => Redirect::to("/").into_response(),
    }
}

fn login_page(web: &Web, status: StatusCode, error: Option<&str>) -> Response {
    let html = web
        .views
        .render("login.html", minijinja::context! { error => error });
    match html {
        Ok(html) => (status, axum::response::Html(html)).into_response(),
        Err(e) => super::Failure(e).into_response(),
    }
}

/// Whether the request names this host by a loopback name (`localhost`, `127.x.x.x`,
/// `[::1]`), as a browser on this machine does; a rebound DNS name does not.
fn addressed_to_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Compares two secrets in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// 128 random bits from the kernel, as hex.
fn random_hex() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // No /dev/urandom (a chroot): the standard library's per-process random keys.
        use std::hash::{BuildHasher, RandomState};
        for (i, chunk) in bytes.chunks_mut(8).enumerate() {
            let v = RandomState::new().hash_one(i);
            chunk.copy_from_slice(&v.to_le_bytes());
        }
    }
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_only() {
        let with_host = |h: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::HOST, h.parse().unwrap());
            addressed_to_loopback(&m)
        };
        for ok in [
            "localhost:9188",
            "127.0.0.1:9188",
            "[::1]:9188",
            "LOCALHOST",
        ] {
            assert!(with_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:9188",
            "10.0.0.1:9188",
            "[::2]:80",
            "localhost.evil",
        ] {
            assert!(!with_host(bad), "{bad}");
        }
        assert!(!addressed_to_loopback(&HeaderMap::new()));
    }

    #[test]
    fn cookies_and_secrets() {
        let mut m = HeaderMap::new();
        m.insert(
            header::COOKIE,
            "a=1; feedwatch_session=xyz".parse().unwrap(),
        );
        assert_eq!(cookie(&m, COOKIE), Some("xyz"));
        assert!(same("abc", "abc") && !same("abc", "abd"));
        assert_ne!(random_hex(), random_hex());
    }
}
