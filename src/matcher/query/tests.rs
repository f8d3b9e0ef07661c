use super::*;

fn atom(field: Field, kind: AtomKind, written: &str) -> Expr {
    Expr::Atom(Atom {
        field,
        kind,
        written: written.into(),
    })
}

fn w(s: &str) -> Expr {
    atom(Field::Any, AtomKind::Words(s.into()), s)
}

#[test]
fn parses_precedence_phrases_scopes_and_near() {
    assert_eq!(parse_query("a b").unwrap(), Expr::And(vec![w("a"), w("b")]));
    assert_eq!(
        parse_query("a OR b c").unwrap(),
        Expr::Or(vec![w("a"), Expr::And(vec![w("b"), w("c")])])
    );
    assert_eq!(
        parse_query("(a OR b) AND NOT c").unwrap(),
        Expr::And(vec![
            Expr::Or(vec![w("a"), w("b")]),
            Expr::Not(Box::new(w("c")))
        ])
    );
    assert_eq!(
        parse_query("\"Nicolás  Maduro\"").unwrap(),
        atom(
            Field::Any,
            AtomKind::Words("nicolas maduro".into()),
            "\"Nicolás  Maduro\""
        )
    );
    assert_eq!(
        parse_query("title:Venezuel*").unwrap(),
        atom(
            Field::Title,
            AtomKind::Prefix("venezuel".into()),
            "Venezuel*"
        )
    );
    assert_eq!(
        parse_query("text:(a OR b)").unwrap(),
        Expr::Or(vec![
            atom(Field::Text, AtomKind::Words("a".into()), "a"),
            atom(Field::Text, AtomKind::Words("b".into()), "b")
        ])
    );
    let Expr::Near(a, b, 5) = parse_query("Maduro NEAR/5 (talks OR dialogue)").unwrap() else {
        panic!("not NEAR")
    };
    let written = |v: &[Atom]| v.iter().map(|x| x.written.clone()).collect::<Vec<_>>();
    assert_eq!(written(&a), ["Maduro"]);
    assert_eq!(written(&b), ["talks", "dialogue"]);
    assert_eq!(
        parse_query("/venezuel(a|an)/").unwrap(),
        atom(
            Field::Any,
            AtomKind::Regex("venezuel(a|an)".into()),
            "/venezuel(a|an)/"
        )
    );
}

#[test]
fn errors_point_at_the_problem() {
    let cases = [
        ("", 0, "empty query"),
        ("(a OR b", 7, "expected ')'"),
        ("a OR b)", 6, "unmatched ')'"),
        ("a AND", 5, "the query ends"),
        ("a OR OR b", 5, "found OR"),
        ("\"open phrase", 0, "unclosed quote"),
        ("a /[/", 2, "invalid regex"),
        ("x NEAR/k y", 2, "NEAR needs a number"),
        (
            "(a b) NEAR/3 c",
            0,
            "NEAR needs a word, a phrase or (a OR b)",
        ),
        ("author:x", 0, "unknown field"),
        ("NOT a", 0, "only excludes"),
        ("a AND --", 6, "no letters or digits"),
        ("x-*", 0, "`*` must follow"),
    ];
    for (q, pos, msg) in cases {
        let e = parse_query(q).expect_err(q);
        assert_eq!(e.pos, pos, "{q:?}: {e}");
        assert!(e.message.contains(msg), "{q:?}: {e}");
    }
}

#[test]
fn terms() {
    assert_eq!(
        parse_term("Venezuel*").unwrap().kind,
        AtomKind::Prefix("venezuel".into())
    );
    assert_eq!(
        parse_term("/^ab+c/").unwrap().kind,
        AtomKind::Regex("^ab+c".into())
    );
    assert_eq!(
        parse_term("Nicolas Maduro").unwrap().kind,
        AtomKind::Words("nicolas maduro".into())
    );
    assert!(parse_term("/(/").is_err());
    assert!(parse_term("**").is_err());
}

#[test]
fn nesting_is_bounded() {
    let deep = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
    assert!(parse_query(&deep(MAX_QUERY_DEPTH)).is_ok());
    for q in [
        deep(10_000),
        format!("{}a", "NOT ".repeat(20_000)),
        format!("{}a", "title:".repeat(5_000)),
    ] {
        let e = parse_query(&q).unwrap_err();
        assert!(e.message.contains("nests deeper than"), "{}", e.message);
    }
}
