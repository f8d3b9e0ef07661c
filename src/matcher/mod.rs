//! Watches compiled into one matcher: whole words, phrases, prefixes, regexes and boolean
//! queries, case- and accent-insensitive, over the title and the clean text. Every literal
//! of every watch sits in one hash index keyed by its first word, so an article is split
//! and folded into words once and each word costs one lookup, whether there are ten terms
//! or ten thousand; only watches whose literals occur are evaluated.

mod fold;
mod query;
mod scan;

use rustc_hash::FxHashMap;

pub use fold::{Folded, Words, fold, fold_str, snippet, words, words_upto};
pub use query::{Atom, AtomKind, Expr, Field, QueryError, parse_query, parse_term};

use crate::model::Hit;

/// Bounds on a user's regex: compiled size, so a pathological pattern is refused at load.
/// (The regex crate matches in linear time, so there is no catastrophic backtracking.)
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// What a watch asks for, as the matcher needs it.
#[derive(Debug, Clone, Default)]
pub struct WatchSpec {
    /// The watch's name.
    pub name: String,
    /// Words, phrases, `prefix*` or `/regex/`: any matches.
    pub terms: Vec<String>,
    /// Any of these, and the watch does not match.
    pub exclude: Vec<String>,
    /// A boolean query; matches alongside the terms.
    pub query: Option<String>,
    /// Only these sources (empty: all).
    pub sources: Vec<String>,
    /// Only sources with one of these tags (empty: all).
    pub tags: Vec<String>,
}

/// A watch that does not compile.
#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    /// A term, exclusion or query of the watch is invalid.
    #[error("watch \"{watch}\": {what} {error}")]
    Invalid {
        /// The watch's name.
        watch: String,
        /// Which part: `term "x"`, `query`...
        what: String,
        /// What is wrong with it.
        error: QueryError,
    },
}

/// Why a watch does or does not match an article ([`Matcher::explain`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// It matches: the alert's terms and snippet.
    Match(Hit),
    /// A term matched, and this exclusion (as written) vetoed it.
    Excluded(String),
    /// No term and no query matched.
    NoTerm,
    /// The watch is restricted to other sources or tags.
    OutOfScope,
}

/// The source an article came from, for watches restricted by `sources` or `tags`.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The source's name.
    pub source: &'a str,
    /// The source's tags.
    pub tags: &'a [String],
}

/// Checks a single `terms`/`exclude` entry.
pub fn check_term(term: &str) -> Result<(), String> {
    parse_term(term).map(|_| ()).map_err(|e| e.message)
}

/// Checks that a regex compiles within the size bound.
pub fn check_regex(pattern: &str) -> Result<(), String> {
    build_regex(pattern).map(|_| ())
}

fn build_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            format!(
                "invalid regex /{pattern}/: {}",
                e.to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        })
}

enum Pattern {
    /// Folded words in order; with `prefix`, the last one may continue (`venezuel*`).
    Literal {
        words: Vec<String>,
        prefix: bool,
    },
    Regex(regex::Regex),
}

struct CompiledAtom {
    field: Field,
    pattern: Pattern,
    written: String,
}

enum Cond {
    Atom(usize),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Near(Vec<usize>, Vec<usize>, u32),
}

struct CompiledWatch {
    spec: WatchSpec,
    terms: Vec<usize>,
    exclude: Vec<usize>,
    query: Option<Cond>,
    /// Has a regex atom: evaluated on every article, not only when a literal occurs.
    always: bool,
}

/// All watches, compiled.
pub struct Matcher {
    watches: Vec<CompiledWatch>,
    atoms: Vec<CompiledAtom>,
    /// Literal atoms by the hash of their first word (or of a one-word prefix).
    index: scan::Index,
    /// Atom → watch that owns it.
    atom_watch: Vec<usize>,
}

/// One occurrence of an atom: word indexes `start..=end` (literals only; for `NEAR`) and
/// the byte range in the original text (for snippets).
#[derive(Debug, Clone, Copy)]
struct Occ {
    in_title: bool,
    start: usize,
    end: usize,
    orig_start: usize,
    orig_end: usize,
}

mod eval;

impl Matcher {
    /// Compiles the watches; an invalid term or query is an error naming its watch.
    pub fn new(specs: Vec<WatchSpec>) -> Result<Matcher, MatcherError> {
        let mut b = Builder::default();
        let mut watches = Vec::with_capacity(specs.len());
        for (w, spec) in specs.into_iter().enumerate() {
            let invalid = |what: String, error: QueryError| MatcherError::Invalid {
                watch: spec.name.clone(),
                what,
                error,
            };
            let first_atom = b.atoms.len();
            let mut terms = Vec::new();
            for t in &spec.terms {
                let atom = parse_term(t).map_err(|e| invalid(format!("term \"{t}\""), e))?;
                terms.push(b.atom(atom, w));
            }
            let mut exclude = Vec::new();
            for t in &spec.exclude {
                let atom = parse_term(t).map_err(|e| invalid(format!("exclude \"{t}\""), e))?;
                exclude.push(b.atom(atom, w));
            }
            let query = match &spec.query {
                Some(q) => Some(b.cond(parse_query(q).map_err(|e| invalid("query".into(), e))?, w)),
                None => None,
            };
            let always = b.atoms[first_atom..]
                .iter()
                .any(|a| matches!(a.pattern, Pattern::Regex(_)));
            watches.push(CompiledWatch {
                spec,
                terms,
                exclude,
                query,
                always,
            });
        }
        Ok(Matcher {
            watches,
            atoms: b.atoms,
            index: scan::Index::new(b.first, b.prefixes.into_iter().collect()),
            atom_watch: b.atom_watch,
        })
    }

    /// The watches, as given.
    pub fn watches(&self) -> impl Iterator<Item = &WatchSpec> {
        self.watches.iter().map(|w| &w.spec)
    }

    /// Matches one article from `scope`; returns a hit per watch that matched and was not
    /// excluded, with the terms (as written) that matched and a snippet around the first.
    pub fn match_article(&self, scope: Scope<'_>, title: &str, text: &str) -> Vec<Hit> {
        let mut occs: FxHashMap<usize, Vec<Occ>> = FxHashMap::default();
        self.literal_occurrences(title, true, &mut occs);
        self.literal_occurrences(text, false, &mut occs);
        let mut candidates: Vec<usize> = occs.keys().map(|&a| self.atom_watch[a]).collect();
        candidates.extend(
            self.watches
                .iter()
                .enumerate()
                .filter(|(_, w)| w.always)
                .map(|(i, _)| i),
        );
        if candidates.is_empty() {
            return Vec::new();
        }
        candidates.sort_unstable();
        candidates.dedup();

        let mut ctx = eval::Ctx::new(self, title, text, occs);
        let mut hits = Vec::new();
        for w in candidates {
            let watch = &self.watches[w];
            if !in_scope(&watch.spec, scope) {
                continue;
            }
            if let Some(matched) = ctx.evaluate(watch) {
                hits.push(self.hit(&mut ctx, watch, &matched, text));
            }
        }
        hits
    }

    /// Why each watch, in config order, does or does not match one article from `scope`
    /// (for `preview --explain`; slower than [`Matcher::match_article`]).
    pub fn explain(&self, scope: Scope<'_>, title: &str, text: &str) -> Vec<(String, Verdict)> {
        let mut occs: FxHashMap<usize, Vec<Occ>> = FxHashMap::default();
        self.literal_occurrences(title, true, &mut occs);
        self.literal_occurrences(text, false, &mut occs);
        let mut ctx = eval::Ctx::new(self, title, text, occs);
        self.watches
            .iter()
            .map(|watch| {
                let verdict = if !in_scope(&watch.spec, scope) {
                    Verdict::OutOfScope
                } else {
                    match ctx.explain(watch) {
                        Ok(matched) => Verdict::Match(self.hit(&mut ctx, watch, &matched, text)),
                        Err(Some(veto)) => Verdict::Excluded(self.atoms[veto].written.clone()),
                        Err(None) => Verdict::NoTerm,
                    }
                };
                (watch.spec.name.clone(), verdict)
            })
            .collect()
    }

    /// The hit of a watch that matched: the terms as written, a snippet around the first.
    fn hit(
        &self,
        ctx: &mut eval::Ctx<'_>,
        watch: &CompiledWatch,
        matched: &[usize],
        text: &str,
    ) -> Hit {
        let first = matched
            .iter()
            .filter_map(|&a| ctx.first_in_text(a))
            .min_by_key(|o| o.orig_start);
        let snippet = match first {
            Some(o) => snippet(text, o.orig_start, o.orig_end),
            None => snippet(text, 0, 0),
        };
        let mut terms: Vec<String> = matched
            .iter()
            .map(|&a| self.atoms[a].written.clone())
            .collect();
        terms.dedup();
        Hit {
            watch: watch.spec.name.clone(),
            terms,
            snippet,
        }
    }

    /// Every occurrence of a literal atom in `text`: one hashed pass over the text, then an
    /// exact check of the words where a hash hit.
    fn literal_occurrences(
        &self,
        text: &str,
        in_title: bool,
        occs: &mut FxHashMap<usize, Vec<Occ>>,
    ) {
        let mut candidates = Vec::new();
        scan::scan(text, &self.index, |c| candidates.push(c));
        let mut found = Words::default();
        for c in candidates {
            for &a in c.atoms {
                let atom = &self.atoms[a];
                let Pattern::Literal { words: aw, prefix } = &atom.pattern else {
                    continue;
                };
                if !field_ok(atom.field, in_title) {
                    continue;
                }
                fold::words_into(&text[c.orig_start..], aw.len(), &mut found);
                if found.len() < aw.len() {
                    continue;
                }
                let last = aw.len() - 1;
                let exact = (0..aw.len()).all(|k| {
                    let w = found.get(k);
                    if k == last && *prefix {
                        w.starts_with(aw[k].as_str())
                    } else {
                        w == aw[k]
                    }
                });
                if exact {
                    let (s, e) = found.original(0, last);
                    occs.entry(a).or_default().push(Occ {
                        in_title,
                        start: c.word,
                        end: c.word + last,
                        orig_start: c.orig_start + s,
                        orig_end: c.orig_start + e,
                    });
                }
            }
        }
    }
}

fn field_ok(field: Field, in_title: bool) -> bool {
    match field {
        Field::Any => true,
        Field::Title => in_title,
        Field::Text => !in_title,
    }
}

fn in_scope(spec: &WatchSpec, scope: Scope<'_>) -> bool {
    (spec.sources.is_empty() || spec.sources.iter().any(|s| s == scope.source))
        && (spec.tags.is_empty() || spec.tags.iter().any(|t| scope.tags.contains(t)))
}

/// Collects atoms into the indexes while watches compile.
#[derive(Default)]
struct Builder {
    atoms: Vec<CompiledAtom>,
    atom_watch: Vec<usize>,
    first: FxHashMap<u64, Vec<usize>>,
    prefixes: std::collections::BTreeMap<usize, FxHashMap<u64, Vec<usize>>>,
}

impl Builder {
    fn atom(&mut self, atom: Atom, watch: usize) -> usize {
        let id = self.atoms.len();
        let prefix = matches!(atom.kind, AtomKind::Prefix(_));
        let pattern = match atom.kind {
            AtomKind::Regex(r) => Pattern::Regex(build_regex(&r).expect("checked when parsed")),
            AtomKind::Words(s) | AtomKind::Prefix(s) => {
                let w = words(&s);
                let list: Vec<String> = (0..w.len()).map(|i| w.get(i).to_string()).collect();
                let key = scan::hash_word(&list[0]);
                if prefix && list.len() == 1 {
                    self.prefixes
                        .entry(list[0].len())
                        .or_default()
                        .entry(key)
                        .or_default()
                        .push(id);
                } else {
                    self.first.entry(key).or_default().push(id);
                }
                Pattern::Literal {
                    words: list,
                    prefix,
                }
            }
        };
        self.atoms.push(CompiledAtom {
            field: atom.field,
            pattern,
            written: atom.written,
        });
        self.atom_watch.push(watch);
        id
    }

    fn cond(&mut self, e: Expr, watch: usize) -> Cond {
        match e {
            Expr::Atom(a) => Cond::Atom(self.atom(a, watch)),
            Expr::And(v) => Cond::And(v.into_iter().map(|x| self.cond(x, watch)).collect()),
            Expr::Or(v) => Cond::Or(v.into_iter().map(|x| self.cond(x, watch)).collect()),
            Expr::Not(x) => Cond::Not(Box::new(self.cond(*x, watch))),
            Expr::Near(a, b, n) => {
                let a = a.into_iter().map(|x| self.atom(x, watch)).collect();
                let b = b.into_iter().map(|x| self.atom(x, watch)).collect();
                Cond::Near(a, b, n)
            }
        }
    }
}

/// `text` cut where `terms` occur: each piece, and whether it is a term (to mark).
pub fn split_at_terms<'a>(text: &'a str, terms: &[String]) -> Vec<(&'a str, bool)> {
    let mut out = Vec::new();
    let mut last = 0;
    for r in find_terms(text, terms) {
        out.push((&text[last..r.start], false));
        out.push((&text[r.clone()], true));
        last = r.end;
    }
    out.push((&text[last..], false));
    out
}

/// Where `terms` (as written in the config) occur in `text`: byte ranges of the original,
/// sorted, not overlapping; for highlighting a snippet.
pub fn find_terms(text: &str, terms: &[String]) -> Vec<std::ops::Range<usize>> {
    let specs = terms
        .iter()
        .filter(|t| parse_term(t.trim_matches('"')).is_ok())
        .map(|t| WatchSpec {
            name: String::new(),
            terms: vec![t.trim_matches('"').to_string()],
            ..Default::default()
        })
        .collect();
    let Ok(m) = Matcher::new(specs) else {
        return Vec::new();
    };
    let mut occs = FxHashMap::default();
    m.literal_occurrences(text, false, &mut occs);
    let mut ctx = eval::Ctx::new(&m, "", text, occs);
    let mut found: Vec<std::ops::Range<usize>> = Vec::new();
    for a in 0..m.atoms.len() {
        found.extend(
            ctx.all_in_text(a)
                .into_iter()
                .map(|o| o.orig_start..o.orig_end),
        );
    }
    found.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut merged: Vec<std::ops::Range<usize>> = Vec::new();
    for r in found {
        match merged.last_mut() {
            Some(last) if r.start < last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

#[cfg(test)]
mod tests;
