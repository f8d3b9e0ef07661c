//! The watch language: terms (`word`, `"a phrase"`, `prefix*`, `/regex/`) and boolean
//! queries over them (`AND`, `OR`, `NOT`, parentheses, `title:`/`text:` scopes, `NEAR/n`).
//! Errors carry the character position they are about.

use std::fmt;

/// Where an atom must occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// Title or text.
    Any,
    /// The title only.
    Title,
    /// The text only.
    Text,
}

/// The smallest thing that matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AtomKind {
    /// Whole words, folded (lowercase, no accents, single spaces).
    Words(String),
    /// Folded words whose last word may continue (`venezuel*`).
    Prefix(String),
    /// A regular expression over the folded text.
    Regex(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
/// One searchable unit: a term in a field.
pub struct Atom {
    /// Where it is looked for.
    pub field: Field,
    /// What it looks for.
    pub kind: AtomKind,
    /// As the user wrote it, for `matched` lists.
    pub written: String,
}

#[derive(Debug, Clone, PartialEq)]
/// A parsed query.
pub enum Expr {
    /// A term.
    Atom(Atom),
    /// All of these.
    And(Vec<Expr>),
    /// Any of these.
    Or(Vec<Expr>),
    /// Not this.
    Not(Box<Expr>),
    /// Some atom of each side within `n` words of each other, in the same field.
    /// Each side is one atom or a parenthesised OR of atoms.
    Near(Vec<Atom>, Vec<Atom>, u32),
}

/// A query error at a character position (0-based) of the query text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// Character position of the problem in the query.
    pub pos: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "at character {}: {}", self.pos + 1, self.message)
    }
}

/// Parses one `terms`/`exclude` entry: a word or phrase, `prefix*`, or `/regex/`.
pub fn parse_term(term: &str) -> Result<Atom, QueryError> {
    let t = term.trim();
    if t.len() >= 2 && t.starts_with('/') && t.ends_with('/') {
        return regex_atom(&t[1..t.len() - 1], Field::Any, term, 1);
    }
    word_atom(t, Field::Any, term, 0)
}

fn regex_atom(pattern: &str, field: Field, written: &str, pos: usize) -> Result<Atom, QueryError> {
    super::check_regex(pattern).map_err(|message| QueryError { pos, message })?;
    Ok(Atom {
        field,
        kind: AtomKind::Regex(pattern.to_string()),
        written: written.to_string(),
    })
}

fn word_atom(text: &str, field: Field, written: &str, pos: usize) -> Result<Atom, QueryError> {
    let (body, prefix) = match text.strip_suffix('*') {
        Some(b) => (b, true),
        None => (text, false),
    };
    let folded = super::fold_str(body);
    let folded = folded.trim();
    if !folded.chars().any(char::is_alphanumeric) {
        return Err(QueryError {
            pos,
            message: format!("\"{written}\" has no letters or digits to match"),
        });
    }
    if prefix && !folded.ends_with(char::is_alphanumeric) {
        return Err(QueryError {
            pos,
            message: format!("\"{written}\": `*` must follow a letter or digit"),
        });
    }
    let kind = if prefix {
        AtomKind::Prefix(folded.to_string())
    } else {
        AtomKind::Words(folded.to_string())
    };
    Ok(Atom {
        field,
        kind,
        written: written.to_string(),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Near(u32),
    /// `title:` or `text:` directly before the next operand.
    Scope(Field),
    Word(String),
    Phrase(String),
    Regex(String),
}

fn tokenize(q: &str) -> Result<Vec<(usize, Tok)>, QueryError> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '"' | '/' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&x| x == c)
                    .map(|p| i + 1 + p)
                    .ok_or_else(|| QueryError {
                        pos: start,
                        message: format!(
                            "unclosed {}",
                            if c == '"' {
                                "quote"
                            } else {
                                "regex (missing closing /)"
                            }
                        ),
                    })?;
                let inner: String = chars[i + 1..end].iter().collect();
                i = end + 1;
                let starred = c == '"' && chars.get(i) == Some(&'*');
                if starred {
                    i += 1;
                }
                match c {
                    '"' if starred => Tok::Phrase(format!("{inner}*")),
                    '"' => Tok::Phrase(inner),
                    _ => Tok::Regex(inner),
                }
            }
            _ => {
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '(' | ')' | '"')
                {
                    i += 1;
                    if chars[i - 1] == ':' {
                        break;
                    }
                }
                let word: String = chars[start..i].iter().collect();
                match word.as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    "title:" => Tok::Scope(Field::Title),
                    "text:" => Tok::Scope(Field::Text),
                    w if w.starts_with("NEAR/") => {
                        let n = w[5..].parse().map_err(|_| QueryError {
                            pos: start,
                            message: format!("\"{w}\": NEAR needs a number of words, as in NEAR/5"),
                        })?;
                        Tok::Near(n)
                    }
                    w if w.ends_with(':') => {
                        return Err(QueryError {
                            pos: start,
                            message: format!("unknown field \"{w}\"; use title: or text:"),
                        });
                    }
                    _ => Tok::Word(word),
                }
            }
        };
        out.push((start, tok));
    }
    Ok(out)
}

/// Deepest nesting of parentheses, `NOT`s and field scopes a query may have: the parser and
/// the matcher recurse once per level, and a query is a config value, not a stack test.
pub(crate) const MAX_QUERY_DEPTH: usize = 64;

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    len: usize,
    /// Current nesting, bounded by [`MAX_QUERY_DEPTH`].
    depth: usize,
}

/// Parses a boolean query. Adjacent operands are ANDed; `NOT` binds tightest, then `NEAR`,
/// then `AND`, then `OR`.
pub fn parse_query(q: &str) -> Result<Expr, QueryError> {
    let mut p = Parser {
        toks: tokenize(q)?,
        at: 0,
        len: q.chars().count(),
        depth: 0,
    };
    if p.toks.is_empty() {
        return Err(QueryError {
            pos: 0,
            message: "empty query".into(),
        });
    }
    let expr = p.or()?;
    if let Some((pos, tok)) = p.toks.get(p.at) {
        let what = if *tok == Tok::RParen {
            "unmatched ')'".to_string()
        } else {
            format!("unexpected {tok:?}")
        };
        return Err(QueryError {
            pos: *pos,
            message: what,
        });
    }
    if !has_positive(&expr, false) {
        return Err(QueryError {
            pos: 0,
            message: "the query only excludes; it needs something to match".into(),
        });
    }
    Ok(expr)
}

fn has_positive(e: &Expr, negated: bool) -> bool {
    match e {
        Expr::Atom(_) | Expr::Near(..) => !negated,
        Expr::Not(inner) => has_positive(inner, !negated),
        Expr::And(v) | Expr::Or(v) => v.iter().any(|x| has_positive(x, negated)),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.len, |(p, _)| *p)
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut parts = vec![self.not()?];
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    self.at += 1;
                    parts.push(self.not()?);
                }
                Some(Tok::Or | Tok::RParen) | None => break,
                Some(_) => parts.push(self.not()?),
            }
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Expr::And(parts)
        })
    }

    /// Runs `f` one nesting level down, refusing to go past [`MAX_QUERY_DEPTH`].
    fn nested<T>(
        &mut self,
        pos: usize,
        f: impl FnOnce(&mut Self) -> Result<T, QueryError>,
    ) -> Result<T, QueryError> {
        if self.depth >= MAX_QUERY_DEPTH {
            return Err(QueryError {
                pos,
                message: format!(
                    "the query nests deeper than {MAX_QUERY_DEPTH} levels of parentheses, NOTs and scopes"
                ),
            });
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn not(&mut self) -> Result<Expr, QueryError> {
        if self.peek() == Some(&Tok::Not) {
            let pos = self.pos();
            self.at += 1;
            let inner = self.nested(pos, |p| p.not())?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.near()
    }

    fn near(&mut self) -> Result<Expr, QueryError> {
        let left_pos = self.pos();
        let left = self.primary()?;
        let Some(Tok::Near(n)) = self.peek().cloned() else {
            return Ok(left);
        };
        self.at += 1;
        let right_pos = self.pos();
        let right = self.primary()?;
        let (a, b) = (near_side(left, left_pos)?, near_side(right, right_pos)?);
        if a.iter()
            .chain(&b)
            .any(|x| matches!(x.kind, AtomKind::Regex(_)))
        {
            return Err(QueryError {
                pos: left_pos,
                message: "NEAR does not take regexes".into(),
            });
        }
        Ok(Expr::Near(a, b, n))
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let pos = self.pos();
        let Some((_, tok)) = self.toks.get(self.at).cloned() else {
            return Err(QueryError {
                pos,
                message: "the query ends where a word, phrase or '(' was expected".into(),
            });
        };
        self.at += 1;
        match tok {
            Tok::LParen => {
                let inner = self.nested(pos, |p| p.or())?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(QueryError {
                        pos: self.pos(),
                        message: format!("expected ')' to close the '(' at character {}", pos + 1),
                    });
                }
                self.at += 1;
                Ok(inner)
            }
            Tok::Scope(field) => {
                let inner = self.nested(pos, |p| p.primary())?;
                Ok(scoped(inner, field))
            }
            Tok::Word(w) => Ok(Expr::Atom(word_atom(&w, Field::Any, &w, pos)?)),
            Tok::Phrase(p) => Ok(Expr::Atom(word_atom(
                &p,
                Field::Any,
                &format!("\"{}\"", p.trim_end_matches('*')),
                pos,
            )?)),
            Tok::Regex(r) => Ok(Expr::Atom(regex_atom(
                &r,
                Field::Any,
                &format!("/{r}/"),
                pos,
            )?)),
            other => Err(QueryError {
                pos,
                message: format!(
                    "expected a word, phrase or '(' but found {}",
                    describe(&other)
                ),
            }),
        }
    }
}

/// One side of `NEAR`: a word, a phrase, or `(a OR b OR ...)` of those.
fn near_side(e: Expr, pos: usize) -> Result<Vec<Atom>, QueryError> {
    let err = || QueryError {
        pos,
        message: "NEAR needs a word, a phrase or (a OR b) on each side".into(),
    };
    match e {
        Expr::Atom(a) => Ok(vec![a]),
        Expr::Or(v) => v
            .into_iter()
            .map(|x| {
                if let Expr::Atom(a) = x {
                    Ok(a)
                } else {
                    Err(err())
                }
            })
            .collect(),
        _ => Err(err()),
    }
}

/// Applies a `title:`/`text:` scope to every atom below it.
fn scoped(e: Expr, field: Field) -> Expr {
    match e {
        Expr::Atom(mut a) => {
            a.field = field;
            Expr::Atom(a)
        }
        Expr::And(v) => Expr::And(v.into_iter().map(|x| scoped(x, field)).collect()),
        Expr::Or(v) => Expr::Or(v.into_iter().map(|x| scoped(x, field)).collect()),
        Expr::Not(x) => Expr::Not(Box::new(scoped(*x, field))),
        Expr::Near(mut a, mut b, n) => {
            a.iter_mut()
                .chain(b.iter_mut())
                .for_each(|x| x.field = field);
            Expr::Near(a, b, n)
        }
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::And => "AND".into(),
        Tok::Or => "OR".into(),
        Tok::Not => "NOT".into(),
        Tok::Near(n) => format!("NEAR/{n}"),
        Tok::RParen => "')'".into(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests;
