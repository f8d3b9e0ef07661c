use super::*;

fn spec(terms: &[&str], exclude: &[&str], query: Option<&str>) -> WatchSpec {
    WatchSpec {
        name: "w".into(),
        terms: terms.iter().map(|s| s.to_string()).collect(),
        exclude: exclude.iter().map(|s| s.to_string()).collect(),
        query: query.map(str::to_string),
        ..Default::default()
    }
}

const ANY: Scope<'static> = Scope {
    source: "src",
    tags: &[],
};

fn matched(s: WatchSpec, title: &str, text: &str) -> Option<Vec<String>> {
    let hits = Matcher::new(vec![s])
        .unwrap()
        .match_article(ANY, title, text);
    hits.first().map(|h| h.terms.clone())
}

#[test]
fn terms_are_whole_words_case_and_accent_insensitive() {
    // (terms, exclude, title, text, matched terms)
    type Case<'a> = (
        &'a [&'a str],
        &'a [&'a str],
        &'a str,
        &'a str,
        Option<&'a [&'a str]>,
    );
    let cases: &[Case] = &[
        (
            &["nicolas maduro"],
            &[],
            "",
            "President Nicolás Maduro said",
            Some(&["nicolas maduro"]),
        ),
        (
            &["Nicolás Maduro"],
            &[],
            "",
            "NICOLAS   MADURO\nspoke",
            Some(&["Nicolás Maduro"]),
        ),
        (&["oil"], &[], "", "the toilet was broken", None),
        (&["oil"], &[], "", "oil, and migration", Some(&["oil"])),
        (&["Venezuela"], &[], "", "Venezuelan officials", None),
        (
            &["Venezuela"],
            &[],
            "",
            "Venezuela’s oil",
            Some(&["Venezuela"]),
        ),
        (
            &["Venezuela"],
            &[],
            "Venezuela talks",
            "nothing here",
            Some(&["Venezuela"]),
        ),
        (
            &["Venezuela", "Caracas"],
            &["baseball"],
            "",
            "Caracas baseball team in Venezuela",
            None,
        ),
        (
            &["Venezuela", "Caracas", "Maduro"],
            &[],
            "",
            "Maduro in Caracas",
            Some(&["Caracas", "Maduro"]),
        ),
        (&["ﬁnance"], &[], "", "finance news", Some(&["ﬁnance"])),
        (
            &["Venezuel*"],
            &[],
            "",
            "Venezuelan officials",
            Some(&["Venezuel*"]),
        ),
        (&["Venezuel*"], &[], "", "Venezuela", Some(&["Venezuel*"])),
        (&["Venezuel*"], &[], "", "un venezolano", None),
        (&["Venezuel*"], &[], "", "antivenezuelan", None),
        (
            &["/venezuel(a|an)s?\\b/"],
            &[],
            "",
            "Two Venezuelans",
            Some(&["/venezuel(a|an)s?\\b/"]),
        ),
        (
            &["/\\d{3}-\\d{4}/"],
            &[],
            "",
            "call 555-1234",
            Some(&["/\\d{3}-\\d{4}/"]),
        ),
        (&["/\\d{3}-\\d{4}/"], &[], "", "call 5551234", None),
    ];
    for (terms, exclude, title, text, want) in cases {
        let got = matched(spec(terms, exclude, None), title, text);
        let got: Option<Vec<&str>> = got.as_ref().map(|v| v.iter().map(String::as_str).collect());
        assert_eq!(got.as_deref(), *want, "terms {terms:?} on {text:?}");
    }
}

#[test]
fn queries() {
    let text = "Venezuelan President Nicolás Maduro said on Thursday that he is open to talks with Washington.";
    let cases = [
        ("Maduro AND talks", true),
        ("Maduro AND baseball", false),
        ("baseball OR Washington", true),
        ("Maduro NOT Washington", false),
        ("Maduro AND NOT (baseball OR football)", true),
        ("\"nicolas maduro\" AND \"open to talks\"", true),
        ("\"maduro nicolas\"", false),
        ("Maduro NEAR/8 talks", true),
        ("Maduro NEAR/7 talks", false),
        ("talks NEAR/8 Maduro", true),
        ("(ceasefire OR talks) NEAR/8 Maduro", true),
        ("(ceasefire OR truce) NEAR/8 Maduro", false),
        ("\"nicolas maduro\" NEAR/0 said", true),
        ("title:Maduro", false),
        ("title:Crisis AND text:Maduro", true),
        ("text:Crisis", false),
        ("Venezuel* AND /thurs?day/", true),
        ("title:(Crisis OR Oil) Washington", true),
    ];
    for (q, want) in cases {
        let got = matched(spec(&[], &[], Some(q)), "Venezuela crisis", text).is_some();
        assert_eq!(got, want, "{q}");
    }
    let terms = matched(
        spec(
            &[],
            &[],
            Some("Maduro AND (talks OR baseball) AND NOT football"),
        ),
        "",
        text,
    )
    .unwrap();
    assert_eq!(
        terms,
        ["Maduro", "talks"],
        "only positive atoms that occur are listed"
    );
}

#[test]
fn scopes_restrict_watches() {
    let mut s = spec(&["oil"], &[], None);
    s.sources = vec!["Wire".into()];
    let m = Matcher::new(vec![s]).unwrap();
    assert!(
        m.match_article(
            Scope {
                source: "Other",
                tags: &[]
            },
            "",
            "oil"
        )
        .is_empty()
    );
    assert_eq!(
        m.match_article(
            Scope {
                source: "Wire",
                tags: &[]
            },
            "",
            "oil"
        )
        .len(),
        1
    );
    let mut s = spec(&["oil"], &[], None);
    s.tags = vec!["energy".into()];
    let m = Matcher::new(vec![s]).unwrap();
    assert!(m.match_article(ANY, "", "oil").is_empty());
    assert_eq!(
        m.match_article(
            Scope {
                source: "x",
                tags: &["energy".into()]
            },
            "",
            "oil"
        )
        .len(),
        1
    );
}

#[test]
fn shared_terms_across_watches() {
    let a = WatchSpec {
        name: "a".into(),
        terms: vec!["oil".into()],
        ..Default::default()
    };
    let b = WatchSpec {
        name: "b".into(),
        terms: vec!["OIL".into()],
        exclude: vec!["price".into()],
        ..Default::default()
    };
    let hits = Matcher::new(vec![a, b])
        .unwrap()
        .match_article(ANY, "", "oil price");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].watch, "a");
}

#[test]
fn snippet_surrounds_first_match_in_original_text() {
    let text = format!(
        "{} Nicolás Maduro said {}",
        "word ".repeat(40),
        "more ".repeat(60)
    );
    let hits = Matcher::new(vec![spec(&["nicolas maduro"], &[], None)])
        .unwrap()
        .match_article(ANY, "", &text);
    let s = &hits[0].snippet;
    assert!(s.contains("Nicolás Maduro said"), "{s}");
    assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
    assert!(s.chars().count() < 260, "{s}");
}

#[test]
fn invalid_watches_name_the_watch_and_position() {
    let err = Matcher::new(vec![spec(&[], &[], Some("a AND (b"))])
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        err,
        "watch \"w\": query at character 9: expected ')' to close the '(' at character 7"
    );
    let err = Matcher::new(vec![spec(&["/(/"], &[], None)])
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with("watch \"w\": term \"/(/\" at character 2: invalid regex"),
        "{err}"
    );
}

#[test]
fn highlights_terms_prefixes_and_regexes() {
    let text = "Nicolás Maduro met Venezuelans in 2026.";
    let ranges = find_terms(
        text,
        &[
            "nicolas maduro".into(),
            "Venezuel*".into(),
            "/\\d{4}/".into(),
        ],
    );
    let marked: Vec<&str> = ranges.iter().map(|r| &text[r.clone()]).collect();
    assert_eq!(marked, ["Nicolás Maduro", "Venezuelans", "2026"]);
}
