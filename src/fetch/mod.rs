//! HTTP fetching: one shared client, conditional GET, a body capped while it streams,
//! charset decoding, and the freshness hints (`Cache-Control`, `Retry-After`) the scheduler reads.

use std::time::Duration;

use reqwest::header::{self, HeaderMap};
use reqwest::{Client, StatusCode};
use url::Url;

mod guard;
mod hosts;

use guard::check_url;

/// Limits and identity of the shared client.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Deadline for one whole request, body included.
    pub timeout: Duration,
    /// Deadline for connecting.
    pub connect_timeout: Duration,
    /// Largest body accepted, after decompression.
    pub max_body: u64,
    /// Requests at once to one host.
    pub per_host: usize,
    /// Least time between the starts of two requests to one host.
    pub host_delay: Duration,
    /// Redirects followed at most.
    pub max_redirects: usize,
    /// The `User-Agent` header sent.
    pub user_agent: String,
    /// Lets content URLs reach private and local addresses (the SSRF guard off).
    pub allow_private: bool,
}

use crate::model::Validators;

/// A response body and what came with it.
#[derive(Debug)]
pub struct Fetched {
    /// Where the response came from, after redirects.
    pub final_url: Url,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The body, decompressed.
    pub body: Vec<u8>,
    /// Validators to send back next time.
    pub validators: Validators,
    /// `Cache-Control: max-age`, if the server gave one.
    pub max_age: Option<Duration>,
}

#[derive(Debug)]
/// A response: new content, or not modified.
pub enum FetchOutcome {
    /// 304: nothing changed since the validators were issued.
    NotModified {
        /// `Cache-Control: max-age`, if the server gave one.
        max_age: Option<Duration>,
    },
    /// 200: the body and what came with it.
    Fetched(Fetched),
}

/// Why a fetch failed; each names the URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered with an error status.
    #[error("HTTP {status} from {url}")]
    Status {
        /// The URL fetched.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The server's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// The body passed `max_body` (counted after decompression).
    #[error("response from {url} exceeds the {limit}-byte limit (max_body)")]
    TooLarge {
        /// The URL fetched.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The whole request, body included, outlived `timeout`.
    #[error("timed out fetching {url}")]
    Timeout {
        /// The URL fetched.
        url: String,
    },
    /// No connection, or it broke mid-body.
    #[error("cannot connect to {url}: {message}")]
    Connect {
        /// The URL fetched.
        url: String,
        /// What the network layer said.
        message: String,
    },
    /// Anything else (too many redirects, a bad response).
    #[error("fetching {url} failed: {message}")]
    Other {
        /// The URL fetched.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A content URL pointing at a private or local address (SSRF guard).
    #[error("{0}")]
    Forbidden(String),
    /// A listed source redirected to another host; `Fetcher::fetch` follows it as content.
    #[error("redirected to another host: {to}")]
    LeftHost {
        /// Where the redirect points.
        to: Url,
    },
}

impl FetchError {
    /// A short name for why the fetch failed, to count failures by: `dns`, `refused`,
    /// `timeout`, `tls`, `unreachable`, `connection`, `http 4xx`, `http 5xx`, `too large`,
    /// `private address`, `redirect`, `other`.
    pub fn cause(&self) -> &'static str {
        let message = match self {
            FetchError::Timeout { .. } => return "timeout",
            FetchError::Status { status, .. } if *status >= 500 => return "http 5xx",
            FetchError::Status { .. } => return "http 4xx",
            FetchError::TooLarge { .. } => return "too large",
            FetchError::Forbidden(_) => return "private address",
            FetchError::LeftHost { .. } => return "redirect",
            FetchError::Connect { message, .. } | FetchError::Other { message, .. } => {
                message.to_ascii_lowercase()
            }
        };
        let has = |words: &[&str]| words.iter().any(|w| message.contains(w));
        if has(&[
            "dns error",
            "failed to lookup address",
            "no address associated",
        ]) {
            "dns"
        } else if has(&["connection refused"]) {
            "refused"
        } else if has(&["timed out", "timeout"]) {
            "timeout"
        } else if has(&[
            "certificate",
            "tls",
            "handshake",
            "corrupt message",
            "invalidcontenttype",
        ]) {
            "tls"
        } else if has(&[
            "network is unreachable",
            "no route to host",
            "host is unreachable",
        ]) {
            "unreachable"
        } else if matches!(self, FetchError::Connect { .. }) {
            "connection"
        } else {
            "other"
        }
    }

    /// What an operator should look at when the network failed.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self.cause() {
            "dns" => {
                "DNS: the host name does not resolve; check the URL's host and this machine's resolver"
            }
            "refused" => {
                "refused: nothing accepts connections on that host and port; is the server up, is the port right?"
            }
            "timeout" => {
                "timeout: no complete answer within [fetch] timeout (a slow server, or a firewall dropping packets)"
            }
            "tls" => {
                "TLS: the secure connection failed (a certificate that is expired, self-signed or for another name, or no TLS on that port)"
            }
            "unreachable" => "unreachable: no route to the host; is this machine's network up?",
            "connection" => {
                "connection: the connection broke; if it keeps happening, look at proxies and firewalls on the way"
            }
            _ => return None,
        })
    }

    /// `Retry-After` of a 429/503, if the server sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Whether `url` is on the listed source's host: a feed a listed page advertises there is
/// the user's own site.
pub fn same_host(listed: &Url, url: &Url) -> bool {
    url.host_str().is_some() && url.host_str() == listed.host_str()
}

/// Whether `url` is on the listed source's host and port: article pages there are fetched
/// like the source itself (an intranet feed's own pages).
pub fn same_host_and_port(listed: &Url, url: &Url) -> bool {
    same_host(listed, url) && url.port_or_known_default() == listed.port_or_known_default()
}

/// The shared HTTP client.
#[derive(Clone)]
pub struct Fetcher {
    /// For the sources the user listed (which may be on an intranet).
    client: Client,
    /// For URLs that come from content: item pages, page links, and their redirects.
    guarded: Client,
    allow_private: bool,
    max_body: u64,
    /// Politeness per host, for every GET.
    hosts: hosts::Hosts,
}

impl Fetcher {
    /// The shared client, with its limits; one per process.
    pub fn new(opts: &FetchOptions) -> Result<Fetcher, reqwest::Error> {
        crate::init_tls();
        let builder = || {
            Client::builder()
                .user_agent(&opts.user_agent)
                .timeout(opts.timeout)
                .connect_timeout(opts.connect_timeout)
                .gzip(true)
                .brotli(true)
                .deflate(true)
        };
        let max = opts.max_redirects;
        let allow_private = opts.allow_private;
        // A listed source is trusted on its own host only: a redirect that leaves it is
        // content, and is handed to the guarded client (see `get`).
        let listed = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= max {
                return attempt.error(format!("too many redirects (more than {max})"));
            }
            let first = attempt.previous().first().and_then(|u| u.host_str());
            if !allow_private && attempt.url().host_str() != first {
                return attempt.stop();
            }
            attempt.follow()
        });
        let client = builder().redirect(listed).build()?;
        let guarded = if opts.allow_private {
            client.clone()
        } else {
            // Every hop is checked: a public page may redirect inward.
            let policy = reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= max {
                    return attempt.error(format!("too many redirects (more than {max})"));
                }
                match check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(e) => attempt.error(e),
                }
            });
            // No proxy for content: a proxy would resolve names itself, past the guard.
            builder()
                .redirect(policy)
                .dns_resolver(guard::GuardedResolver)
                .no_proxy()
                .build()?
        };
        Ok(Fetcher {
            client,
            guarded,
            allow_private: opts.allow_private,
            max_body: opts.max_body,
            hosts: hosts::Hosts::new(opts.per_host, opts.host_delay),
        })
    }

    /// The underlying client, for notifiers that POST (webhooks).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// GETs a URL that came from content (an item's page, a link on a watched page, a
    /// feed a page advertises), with the SSRF guard on the URL, every redirect and every
    /// resolved address; conditionally when validators are given.
    pub async fn fetch_content(
        &self,
        url: &Url,
        validators: &Validators,
    ) -> Result<FetchOutcome, FetchError> {
        if !self.allow_private {
            check_url(url).map_err(FetchError::Forbidden)?;
        }
        self.get(&self.guarded, url, validators).await
    }

    /// GETs a listed source's URL, conditionally when validators are given. The listed
    /// host is trusted (it may be on an intranet); a redirect to another host is content.
    pub async fn fetch(
        &self,
        url: &Url,
        validators: &Validators,
    ) -> Result<FetchOutcome, FetchError> {
        let outcome = self.get(&self.client, url, validators).await;
        match outcome {
            // The validators came from the redirect's target the last time: sent again, a
            // feed that always moves to another host (example.org -> www) still gets 304s.
            Err(FetchError::LeftHost { to }) => self.fetch_content(&to, validators).await,
            other => other,
        }
    }

    /// GETs `url` found in the content of the listed source at `listed`: trusted like the
    /// source when `trusted(listed, url)` says so, else guarded as content.
    pub async fn fetch_near(
        &self,
        listed: &Url,
        url: &Url,
        validators: &Validators,
        trusted: fn(&Url, &Url) -> bool,
    ) -> Result<FetchOutcome, FetchError> {
        if trusted(listed, url) {
            self.fetch(url, validators).await
        } else {
            self.fetch_content(url, validators).await
        }
    }

    async fn get(
        &self,
        client: &Client,
        url: &Url,
        validators: &Validators,
    ) -> Result<FetchOutcome, FetchError> {
        let mut req = client.get(url.clone()).header(
            header::ACCEPT,
            "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/html;q=0.8, */*;q=0.5",
        );
        if let Some(etag) = &validators.etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            req = req.header(header::IF_MODIFIED_SINCE, lm);
        }
        let _slot = self.hosts.enter(url.host_str().unwrap_or("")).await;
        let mut resp = req.send().await.map_err(|e| classify(url.as_str(), &e))?;
        let status = resp.status();
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            // The listed client stopped at a redirect to another host.
            if let Some(to) = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| resp.url().join(l).ok())
            {
                return Err(FetchError::LeftHost { to });
            }
        }
        let max_age = freshness(resp.headers());
        if status == StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified { max_age });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                retry_after: crate::retry::retry_after(resp.headers()),
            });
        }
        let too_large = || FetchError::TooLarge {
            url: url.to_string(),
            limit: self.max_body,
        };
        if resp.content_length().is_some_and(|n| n > self.max_body) {
            return Err(too_large());
        }
        let final_url = resp.url().clone();
        let headers = resp.headers().clone();
        // Read chunk by chunk so an endless or oversized body stops at the cap, not in memory.
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| classify(url.as_str(), &e))? {
            if body.len() as u64 + chunk.len() as u64 > self.max_body {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Fetched(Fetched {
            final_url,
            content_type: header_str(&headers, header::CONTENT_TYPE),
            body,
            validators: Validators {
                etag: header_str(&headers, header::ETAG),
                last_modified: header_str(&headers, header::LAST_MODIFIED),
            },
            max_age,
        }))
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Turns a reqwest error into a typed one, with the whole cause chain in the message
/// (reqwest's own text alone says little more than "error sending request").
fn classify(url: &str, e: &reqwest::Error) -> FetchError {
    let url = url.to_string();
    if e.is_timeout() {
        return FetchError::Timeout { url };
    }
    let mut message = crate::text::error_chain(e);
    // reqwest names the URL; the error names it already (unless a redirect hop failed).
    if e.url().is_some_and(|u| u.as_str() == url) {
        message = message.replacen(&format!(" for url ({url})"), "", 1);
    }
    if let Some(at) = message.find(guard::REFUSED) {
        // The guard refused a redirect hop or a resolved address: say so, not "redirect".
        return FetchError::Forbidden(message[at..].to_string());
    }
    if e.is_connect() {
        FetchError::Connect { url, message }
    } else if e.is_redirect() {
        FetchError::Other {
            url,
            message: format!("too many redirects ({message})"),
        }
    } else if e.is_body() || e.is_decode() || e.is_request() {
        // A connection cut mid-body is worth a retry like a refused one.
        FetchError::Connect { url, message }
    } else {
        FetchError::Other { url, message }
    }
}

/// How long the response says it stays fresh: `Cache-Control: max-age` wins over `Expires`
/// (RFC 9111 §5.3).
fn freshness(headers: &HeaderMap) -> Option<Duration> {
    max_age(headers).or_else(|| {
        let expires = headers.get(header::EXPIRES)?.to_str().ok()?;
        let at = chrono::DateTime::parse_from_rfc2822(expires.trim()).ok()?;
        let delta = at.timestamp() - chrono::Utc::now().timestamp();
        (delta > 0).then(|| Duration::from_secs(delta as u64))
    })
}

/// `Cache-Control: max-age=N` (RFC 9111 §5.2.2.1).
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let cc = headers.get(header::CACHE_CONTROL)?.to_str().ok()?;
    cc.split(',').find_map(|d| {
        let (k, v) = d.trim().split_once('=')?;
        k.eq_ignore_ascii_case("max-age").then(|| {
            v.trim()
                .trim_matches('"')
                .parse()
                .ok()
                .map(Duration::from_secs)
        })?
    })
}

/// Decodes an HTML body: charset from `Content-Type`, then a BOM, then `<meta charset>` in
/// the first KiB (the HTML spec's prescan order), else UTF-8 with replacement characters.
pub fn decode_html(body: &[u8], content_type: Option<&str>) -> String {
    let from_header = content_type
        .and_then(charset_param)
        .and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes()));
    // A byte-order mark outranks the header, as in browsers (WHATWG "decode"); then the
    // header, the page's own <meta>, and last a guess from the bytes for undeclared pages
    // that are not UTF-8 (old sites in windows-1252, Shift_JIS, KOI8-R...).
    let declared = encoding_rs::Encoding::for_bom(body)
        .map(|(e, _)| e)
        .or(from_header)
        .or_else(|| meta_charset(&body[..body.len().min(1024)]));
    let encoding = match declared {
        // A page that says it is in a legacy encoding but whose bytes are valid UTF-8 with
        // some beyond ASCII is UTF-8: it was converted and kept its old declaration (a
        // `<meta charset=gb2312>` over UTF-8 text). Legacy text is almost never valid
        // UTF-8 once it has a few non-ASCII bytes.
        Some(e) if e != encoding_rs::UTF_8 && !body.is_ascii() => match utf8_text(body) {
            Some(text) => return text.to_string(),
            None => e,
        },
        Some(e) => e,
        None => match std::str::from_utf8(body) {
            Ok(text) => return text.to_string(),
            Err(_) => guess_encoding(body),
        },
    };
    // Labels such as ISO-8859-1 decode as windows-1252, so bytes 0x80-0x9F are curly
    // quotes and dashes, as browsers show them.
    let (text, _, _) = encoding.decode(body);
    text.into_owned()
}

/// `body` as text when it is UTF-8 with enough multi-byte sequences to tell.
fn utf8_text(body: &[u8]) -> Option<&str> {
    std::str::from_utf8(body)
        .ok()
        .filter(|t| t.chars().filter(|c| !c.is_ascii()).take(4).count() >= 4)
}

/// The likeliest encoding of bytes that are not UTF-8.
fn guess_encoding(body: &[u8]) -> &'static encoding_rs::Encoding {
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(&body[..body.len().min(64 * 1024)], body.len() <= 64 * 1024);
    detector.guess(None, true)
}

fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

fn meta_charset(head: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let at = text.find("charset=")? + "charset=".len();
    let label: String = text[at..]
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    encoding_rs::Encoding::for_label(label.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// The network layer's messages, as reqwest and the OS give them, and what they are.
    #[test]
    fn failures_are_named_by_cause_with_a_hint() {
        let connect = |message: &str| FetchError::Connect {
            url: "http://x/".into(),
            message: message.into(),
        };
        for (message, cause, hint) in [
            (
                "error sending request: client error (Connect): dns error: error resolving DNS: failed to lookup address information: Name or service not known",
                "dns",
                "DNS: ",
            ),
            (
                "error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)",
                "refused",
                "refused: ",
            ),
            (
                "error sending request: client error (Connect): received corrupt message of type InvalidContentType",
                "tls",
                "TLS: ",
            ),
            (
                "error sending request: client error (Connect): invalid peer certificate: UnknownIssuer",
                "tls",
                "TLS: ",
            ),
            (
                "tcp connect error: Network is unreachable (os error 101)",
                "unreachable",
                "unreachable: ",
            ),
        ] {
            let e = connect(message);
            assert_eq!(e.cause(), cause, "{message}");
            assert!(e.hint().unwrap().starts_with(hint), "{message}");
        }
        let timeout = FetchError::Timeout {
            url: "http://x/".into(),
        };
        assert_eq!(timeout.cause(), "timeout");
        let status = |status| FetchError::Status {
            url: "http://x/".into(),
            status,
            retry_after: None,
        };
        assert_eq!(
            (status(404).cause(), status(503).cause()),
            ("http 4xx", "http 5xx")
        );
        assert_eq!(
            status(404).hint(),
            None,
            "the server answered: no network hint"
        );
    }

    #[test]
    fn encodings_header_bom_meta_then_guess() {
        // windows-1252 without any declaration: guessed from the bytes.
        let legacy = b"<html><body><p>The caf\xe9 on the corner reopened this week. \x93We missed it,\x94 said one regular \x96 a retired teacher who had come every morning for twenty years. The owner\x92s daughter now runs the kitchen, and the cr\xe8me br\xfbl\xe9e is back on the menu.</p></body></html>";
        let text = decode_html(legacy, None);
        assert!(
            text.contains("The café on the corner")
                && text.contains("“We missed it,” said one regular – a retired")
                && text.contains("owner’s daughter")
                && text.contains("crème brûlée"),
            "{text}"
        );
        // The header wins over the page's meta; a BOM wins over both.
        let meta = "<meta charset=\"windows-1252\"><p>caf\u{e9}</p>".as_bytes();
        assert!(decode_html(meta, Some("text/html; charset=utf-8")).contains("café"));
        let mut bom = b"\xef\xbb\xbf".to_vec();
        bom.extend_from_slice("<p>caf\u{e9}</p>".as_bytes());
        assert!(decode_html(&bom, Some("text/html; charset=iso-8859-1")).contains("café"));
        // ISO-8859-1 means windows-1252: 0x92 is a right single quote.
        assert!(
            decode_html(b"<p>it\x92s</p>", Some("text/html; charset=ISO-8859-1")).contains("it’s")
        );
    }

    #[test]
    fn freshness_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=600"),
        );
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(max_age(&h), Some(Duration::from_secs(600)));
        let mut e = HeaderMap::new();
        let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc2822();
        e.insert(header::EXPIRES, HeaderValue::from_str(&later).unwrap());
        let f = freshness(&e).unwrap();
        assert!(
            f > Duration::from_secs(7000) && f <= Duration::from_secs(7200),
            "{f:?}"
        );
        e.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=60"),
        );
        assert_eq!(freshness(&e), Some(Duration::from_secs(60)));
    }

    #[test]
    fn decodes_charsets_in_order() {
        let latin1 = b"<p>caf\xe9</p>";
        assert_eq!(
            decode_html(latin1, Some("text/html; charset=ISO-8859-1")),
            "<p>café</p>"
        );
        let meta = b"<meta charset=\"windows-1252\"><p>\x93hi\x94</p>";
        assert!(decode_html(meta, None).contains("\u{201c}hi\u{201d}"));
        let bom = b"\xef\xbb\xbf<p>caf\xc3\xa9</p>";
        assert_eq!(
            decode_html(bom, Some("text/html; charset=latin1")),
            "<p>café</p>"
        );
        assert_eq!(decode_html(b"<p>caf\xc3\xa9</p>", None), "<p>café</p>");
        // Converted to UTF-8, still declaring its old encoding: read as what it is.
        let converted = "<meta charset=gb2312><p>谷歌在2014年收购的人工智能公司</p>";
        assert_eq!(decode_html(converted.as_bytes(), None), converted);
        assert_eq!(
            decode_html(
                "<p>déjà vu, café crème</p>".as_bytes(),
                Some("text/html; charset=latin1")
            ),
            "<p>déjà vu, café crème</p>"
        );
    }
}
