//! Page furniture at the edges of the chosen text: the headline repeated, a date or
//! dateline, a byline, a bare link or a short label before the first real paragraph, and the
//! headline or a bare link after the last.

use super::marks::ends_with_stop;

/// The article text without the page furniture that often opens or closes the chosen block:
/// the headline repeated (any of `titles`: the page's title, its `<h1>`), a date or
/// dateline, a bare link, a short label ("Caption", "Text size", "BREAKING NEWS") before the
/// first real paragraph; the headline or a bare link after the last. Never the whole text.
pub(super) fn drop_edge_chrome(text: &str, titles: &[&str]) -> String {
    let paras: Vec<&str> = text.split("\n\n").collect();
    let titles: Vec<&str> = titles
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .collect();
    let repeat = |p: &str| {
        let p = p.trim();
        titles.iter().any(|t| p.eq_ignore_ascii_case(t))
            || (!p.contains(' ') && (p.starts_with("http://") || p.starts_with("https://")))
    };
    let chrome = |p: &str| {
        let p = p.trim();
        let words = p.split_whitespace().count();
        let sentence = ends_with_stop(p) || p.ends_with(['"', '”', '»', ':', ';']);
        repeat(p)
            || (words <= 6 && !sentence && looks_like_date(p))
            || (words <= 3 && !sentence && p.chars().count() <= 30)
            || (words <= 8 && !sentence && is_byline(p))
    };
    let skip = paras.iter().take_while(|p| chrome(p)).count();
    if skip == paras.len() {
        return text.to_string();
    }
    // At the end only repeats: a short closing line is often the author's sign-off.
    let keep = paras.len() - paras[skip..].iter().rev().take_while(|p| repeat(p)).count();
    if skip == 0 && keep == paras.len() {
        return text.to_string();
    }
    paras[skip..keep].join("\n\n")
}

/// "By Jerusalem Post Staff", "Por Ana Gómez y Luis Pérez": a byline repeated in the body.
/// Every word after "By" is a name ("By the numbers" and "Di Maria scores" are not).
fn is_byline(p: &str) -> bool {
    let Some(names) = ["By ", "By\u{a0}", "BY ", "Por ", "Par ", "Von ", "Di "]
        .iter()
        .find_map(|by| p.strip_prefix(by))
    else {
        return false;
    };
    names.split_whitespace().all(|w| {
        ["and", "y", "et", "und", "e", "&", "-", "|"].contains(&w)
            || w.chars()
                .next()
                .is_some_and(|c| !c.is_alphabetic() || c.is_uppercase())
    })
}

/// "Nov. 20, 2019 5:52 AM EST", "2018-08-16", "02 Ago 2017": a year, another number, and
/// little else but short words ("Stock Car 2018" is a headline).
fn looks_like_date(p: &str) -> bool {
    let numbers: Vec<&str> = p
        .split(|c: char| !c.is_ascii_digit())
        .filter(|d| !d.is_empty())
        .collect();
    let has_year = numbers
        .iter()
        .any(|d| d.len() == 4 && (d.starts_with("19") || d.starts_with("20")));
    let letters = p.chars().filter(|c| c.is_alphabetic()).count();
    has_year && numbers.len() >= 2 && letters <= 20
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bylines_are_told_from_headlines() {
        for byline in [
            "By JERUSALEM POST STAFF",
            "Por Ana Gómez y Luis Pérez",
            "By Jane Doe",
        ] {
            assert!(is_byline(byline), "{byline}");
        }
        for not_byline in [
            "By the numbers",
            "Di Maria scores twice",
            "Von der Leyen warns",
        ] {
            assert!(!is_byline(not_byline), "{not_byline}");
        }
    }

    #[test]
    fn dates_are_told_from_headlines_with_a_year() {
        for date in ["Nov. 20, 2019 5:52 AM EST", "2018-08-16", "02 Ago 2017"] {
            assert!(looks_like_date(date), "{date}");
        }
        for not_date in ["Calendário da Stock Car 2018", "Class of 2020"] {
            assert!(!looks_like_date(not_date), "{not_date}");
        }
    }
}
