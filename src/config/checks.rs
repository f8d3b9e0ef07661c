//! Small checks that several tables share; each error carries the span it is about.

use std::collections::HashSet;
use std::ops::Range;

use toml::Spanned;

/// A problem and where in the file it is (`None`: the file as a whole).
pub(super) type Invalid = (Option<Range<usize>>, String);

/// An error at a value's place in the file.
pub(super) fn at<T>(spanned: &Spanned<T>, message: String) -> Invalid {
    (Some(spanned.span()), message)
}

/// A name must be non-empty and not used before by another `what`.
pub(super) fn unique<'a>(
    seen: &mut HashSet<&'a str>,
    name: &'a Spanned<String>,
    what: &str,
) -> Result<(), Invalid> {
    let n = name.get_ref().as_str();
    if n.trim().is_empty() {
        return Err(at(name, format!("{what} name must not be empty")));
    }
    if n.chars().any(char::is_control) {
        return Err(at(
            name,
            format!("{what} name must be one line without control characters"),
        ));
    }
    if !seen.insert(n) {
        return Err(at(name, format!("duplicate {what} name \"{n}\"")));
    }
    Ok(())
}

/// An absolute `http://` or `https://` URL with a host.
pub(super) fn http_url(url: &Spanned<String>) -> Result<url::Url, Invalid> {
    let parsed = url::Url::parse(url.get_ref())
        .map_err(|e| at(url, format!("invalid URL \"{}\": {e}", url.get_ref())))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(at(
            url,
            format!(
                "invalid URL \"{}\": must be http:// or https://",
                url.get_ref()
            ),
        ));
    }
    Ok(parsed)
}

/// The name of an environment variable: letters, digits and `_`.
pub(super) fn env_name(env: &Spanned<String>) -> Result<String, Invalid> {
    let name = env.get_ref();
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name.clone())
    } else {
        Err(at(
            env,
            format!("\"{name}\" is not an environment variable name"),
        ))
    }
}

/// Names listed in `list` must each be one of `known`; `owner` says who lists them
/// (`watch "x"`, `[health]`). `None` means all of `known`.
pub(super) fn routes(
    list: Option<&Vec<Spanned<String>>>,
    known: &[String],
    owner: &str,
) -> Result<Vec<String>, Invalid> {
    let Some(list) = list else {
        return Ok(known.to_vec());
    };
    list.iter()
        .map(|route| {
            let name = route.get_ref();
            if known.contains(name) {
                Ok(name.clone())
            } else {
                Err(at(
                    route,
                    format!("{owner} notifies \"{name}\", but no [[notifier]] has that name"),
                ))
            }
        })
        .collect()
}
