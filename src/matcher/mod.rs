//! Watches compiled into one matcher: whole words, phrases, prefixes, regexes and boolean
//! queries, case- and accent-insensitive, over the title and the clean text. One
//! Aho-Corasick automaton holds every literal of every watch, so a pass costs about the
//! same for ten terms or ten thousand; only watches whose literals occur are evaluated.

mod fold;
mod query;

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};

pub use fold::{Folded, fold, fold_str, snippet};
pub use query::{Atom, AtomKind, Expr, Field, QueryError, parse_query, parse_term};

use crate::model::Hit;

/// Bounds on a user's regex: compiled size, so a pathological pattern is refused at load.
/// (The regex crate matches in linear time, so there is no catastrophic backtracking.)
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// What a watch asks for, as the matcher needs it.
#[derive(Debug, Clone, Default)]
pub struct WatchSpec {
    pub name: String,
    pub terms: Vec<String>,
    pub exclude: Vec<String>,
    pub query: Option<String>,
    /// Only these sources (empty: all).
    pub sources: Vec<String>,
    /// Only sources with one of these tags (empty: all).
    pub tags: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    #[error("watch \"{watch}\": {what} {error}")]
    Invalid {
        watch: String,
        what: String,
        error: QueryError,
    },
    #[error("cannot build the matcher: {0}")]
    Build(#[from] aho_corasick::BuildError),
}

/// The source an article came from, for watches restricted by `sources` or `tags`.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub source: &'a str,
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
    /// A literal in the Aho-Corasick automaton; `prefix`: its last word may continue.
    Literal {
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
    automaton: Option<AhoCorasick>,
    /// Aho-Corasick pattern → atoms that use it.
    pattern_atoms: Vec<Vec<usize>>,
    /// Atom → watch that owns it.
    atom_watch: Vec<usize>,
}

/// One occurrence of an atom, in folded-text byte offsets.
#[derive(Debug, Clone, Copy)]
struct Occ {
    in_title: bool,
    start: usize,
    end: usize,
}

mod eval;

impl Matcher {
    pub fn new(specs: Vec<WatchSpec>) -> Result<Matcher, MatcherError> {
        let mut b = Builder::default();
        let mut watches = Vec::with_capacity(specs.len());
        for (w, spec) in specs.into_iter().enumerate() {
            let invalid = |what: String, error: QueryError| MatcherError::Invalid {
                watch: spec.name.clone(),
                what,
                error,
            };
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
            let always = b
                .atoms
                .iter()
                .zip(&b.atom_watch)
                .any(|(a, &aw)| aw == w && matches!(a.pattern, Pattern::Regex(_)));
            watches.push(CompiledWatch {
                spec,
                terms,
                exclude,
                query,
                always,
            });
        }
        let automaton = if b.patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&b.patterns)?,
            )
        };
        Ok(Matcher {
            watches,
            atoms: b.atoms,
            automaton,
            pattern_atoms: b.pattern_atoms,
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
        let title_f = fold_str(title);
        let text_f = fold_str(text);
        let occs = self.occurrences(&title_f, &text_f);
        let mut candidates: Vec<usize> = occs.keys().map(|&a| self.atom_watch[a]).collect();
        candidates.extend(
            self.watches
                .iter()
                .enumerate()
                .filter(|(_, w)| w.always)
                .map(|(i, _)| i),
        );
        candidates.sort_unstable();
        candidates.dedup();

        let mut ctx = eval::Ctx::new(self, &title_f, &text_f, occs);
        let mut text_map: Option<Folded> = None;
        let mut hits = Vec::new();
        for w in candidates {
            let watch = &self.watches[w];
            if !in_scope(&watch.spec, scope) {
                continue;
            }
            let Some(matched) = ctx.evaluate(watch) else {
                continue;
            };
            let first = matched
                .iter()
                .filter_map(|&a| ctx.first_in_text(a))
                .min_by_key(|o| o.start);
            let snippet = match first {
                Some(o) => {
                    let map = text_map.get_or_insert_with(|| fold(text));
                    snippet(text, map.original(o.start), map.original(o.end))
                }
                None => snippet(text, 0, 0),
            };
            let mut terms: Vec<String> = matched
                .iter()
                .map(|&a| self.atoms[a].written.clone())
                .collect();
            terms.dedup();
            hits.push(Hit {
                watch: watch.spec.name.clone(),
                terms,
                snippet,
            });
        }
        hits
    }

    /// Every literal occurrence, by atom, with whole-word checks applied.
    fn occurrences(&self, title_f: &str, text_f: &str) -> HashMap<usize, Vec<Occ>> {
        let mut occs: HashMap<usize, Vec<Occ>> = HashMap::new();
        let Some(ac) = &self.automaton else {
            return occs;
        };
        for (hay, in_title) in [(title_f, true), (text_f, false)] {
            for m in ac.find_overlapping_iter(hay) {
                if !fold::is_word_start(hay, m.start()) {
                    continue;
                }
                let whole = fold::is_word_end(hay, m.end());
                for &a in &self.pattern_atoms[m.pattern().as_usize()] {
                    let atom = &self.atoms[a];
                    let Pattern::Literal { prefix, .. } = atom.pattern else {
                        continue;
                    };
                    if !(whole || prefix) || !field_ok(atom.field, in_title) {
                        continue;
                    }
                    let end = if prefix {
                        fold::word_end(hay, m.end())
                    } else {
                        m.end()
                    };
                    occs.entry(a).or_default().push(Occ {
                        in_title,
                        start: m.start(),
                        end,
                    });
                }
            }
        }
        occs
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

/// Collects atoms and literal patterns while watches compile.
#[derive(Default)]
struct Builder {
    atoms: Vec<CompiledAtom>,
    atom_watch: Vec<usize>,
    patterns: Vec<String>,
    pattern_ids: HashMap<String, usize>,
    pattern_atoms: Vec<Vec<usize>>,
}

impl Builder {
    fn atom(&mut self, atom: Atom, watch: usize) -> usize {
        let id = self.atoms.len();
        let pattern = match atom.kind {
            AtomKind::Regex(r) => Pattern::Regex(build_regex(&r).expect("checked when parsed")),
            AtomKind::Words(s) => {
                self.literal(s, id);
                Pattern::Literal { prefix: false }
            }
            AtomKind::Prefix(s) => {
                self.literal(s, id);
                Pattern::Literal { prefix: true }
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

    fn literal(&mut self, folded: String, atom: usize) {
        let next = self.patterns.len();
        let id = *self.pattern_ids.entry(folded.clone()).or_insert(next);
        if id == next {
            self.patterns.push(folded);
            self.pattern_atoms.push(Vec::new());
        }
        self.pattern_atoms[id].push(atom);
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

/// Where `terms` occur in `text` as whole words (byte ranges of the original text, sorted,
/// not overlapping): for highlighting a snippet. Terms are as written in the config.
pub fn find_terms(text: &str, terms: &[String]) -> Vec<std::ops::Range<usize>> {
    let folded = fold(text);
    let hay = folded.text.as_str();
    let mut found: Vec<std::ops::Range<usize>> = Vec::new();
    let mut push = |s: usize, e: usize| found.push(folded.original(s)..folded.original(e));
    for term in terms {
        let written = term.trim_matches('"');
        let Ok(atom) = parse_term(written) else {
            continue;
        };
        match atom.kind {
            AtomKind::Words(needle) | AtomKind::Prefix(needle) => {
                let prefix = written.ends_with('*');
                for (s, _) in hay.match_indices(needle.as_str()) {
                    let e = s + needle.len();
                    if fold::is_word_start(hay, s) && (prefix || fold::is_word_end(hay, e)) {
                        push(s, if prefix { fold::word_end(hay, e) } else { e });
                    }
                }
            }
            AtomKind::Regex(r) => {
                if let Ok(re) = build_regex(&r) {
                    re.find_iter(hay)
                        .filter(|m| !m.is_empty())
                        .for_each(|m| push(m.start(), m.end()));
                }
            }
        }
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
