//! Evaluating a watch against one article's occurrences: terms, exclusions, and the query
//! tree with its `NEAR` distances. Regexes run only when a candidate watch asks for them.

use rustc_hash::FxHashMap;

use super::{CompiledWatch, Cond, Folded, Matcher, Occ, Pattern, fold};

pub(super) struct Ctx<'m> {
    m: &'m Matcher,
    title: &'m str,
    text: &'m str,
    occs: FxHashMap<usize, Vec<Occ>>,
    /// Folded title and text with their maps, built for the first regex.
    folded: [Option<Folded>; 2],
}

impl<'m> Ctx<'m> {
    pub(super) fn new(
        m: &'m Matcher,
        title: &'m str,
        text: &'m str,
        occs: FxHashMap<usize, Vec<Occ>>,
    ) -> Self {
        Ctx {
            m,
            title,
            text,
            occs,
            folded: [None, None],
        }
    }

    fn folded(&mut self, in_title: bool) -> &Folded {
        let (i, hay) = if in_title {
            (0, self.title)
        } else {
            (1, self.text)
        };
        self.folded[i].get_or_insert_with(|| fold(hay))
    }

    fn occ(&mut self, atom: usize) -> &[Occ] {
        if let Pattern::Regex(re) = &self.m.atoms[atom].pattern
            && !self.occs.contains_key(&atom)
        {
            let field = self.m.atoms[atom].field;
            let mut found = Vec::new();
            for in_title in [true, false] {
                if super::field_ok(field, in_title) {
                    let f = self.folded(in_title);
                    found.extend(
                        re.find_iter(&f.text)
                            .filter(|m| !m.is_empty())
                            .map(|m| Occ {
                                in_title,
                                start: m.start(),
                                end: m.end(),
                                orig_start: f.original(m.start()),
                                orig_end: f.original(m.end()),
                            }),
                    );
                }
            }
            self.occs.insert(atom, found);
        }
        self.occs.get(&atom).map_or(&[], Vec::as_slice)
    }

    fn hit(&mut self, atom: usize) -> bool {
        !self.occ(atom).is_empty()
    }

    /// The atoms that made the watch match, or `None` if it does not match.
    pub(super) fn evaluate(&mut self, w: &CompiledWatch) -> Option<Vec<usize>> {
        if w.exclude.iter().any(|&a| self.hit(a)) {
            return None;
        }
        let mut matched: Vec<usize> = w.terms.iter().copied().filter(|&a| self.hit(a)).collect();
        if let Some(q) = &w.query
            && self.eval(q)
        {
            self.positive_hits(q, false, &mut matched);
        }
        (!matched.is_empty()).then_some(matched)
    }

    /// Why the watch does or does not match: the atoms that made it match, or `Err` with
    /// the exclusion that vetoed a match (`Some`), or `None` when nothing matched.
    pub(super) fn explain(&mut self, w: &CompiledWatch) -> Result<Vec<usize>, Option<usize>> {
        let mut matched: Vec<usize> = w.terms.iter().copied().filter(|&a| self.hit(a)).collect();
        if let Some(q) = &w.query
            && self.eval(q)
        {
            self.positive_hits(q, false, &mut matched);
        }
        if matched.is_empty() {
            return Err(None);
        }
        match w.exclude.iter().copied().find(|&a| self.hit(a)) {
            Some(veto) => Err(Some(veto)),
            None => Ok(matched),
        }
    }

    fn eval(&mut self, c: &Cond) -> bool {
        match c {
            Cond::Atom(a) => self.hit(*a),
            Cond::And(v) => v.iter().all(|x| self.eval(x)),
            Cond::Or(v) => v.iter().any(|x| self.eval(x)),
            Cond::Not(x) => !self.eval(x),
            Cond::Near(a, b, n) => a.iter().any(|&x| b.iter().any(|&y| self.near(x, y, *n))),
        }
    }

    /// Atoms under an even number of NOTs that occur: what the alert lists as matched.
    fn positive_hits(&mut self, c: &Cond, negated: bool, out: &mut Vec<usize>) {
        match c {
            Cond::Atom(a) => {
                if !negated && self.hit(*a) {
                    out.push(*a);
                }
            }
            Cond::And(v) | Cond::Or(v) => {
                v.iter().for_each(|x| self.positive_hits(x, negated, out))
            }
            Cond::Not(x) => self.positive_hits(x, !negated, out),
            Cond::Near(a, b, n) if !negated => {
                for &x in a {
                    for &y in b {
                        if self.near(x, y, *n) {
                            out.extend([x, y]);
                        }
                    }
                }
            }
            Cond::Near(..) => {}
        }
    }

    /// Whether some occurrence of `a` and of `b`, in the same field, have at most `n` words
    /// between them. (NEAR takes no regexes, so both are word occurrences.)
    fn near(&mut self, a: usize, b: usize, n: u32) -> bool {
        let (oa, ob) = (self.occ(a).to_vec(), self.occ(b).to_vec());
        oa.iter().any(|x| {
            ob.iter().any(|y| {
                let gap = if x.end < y.start {
                    y.start - x.end - 1
                } else if y.end < x.start {
                    x.start - y.end - 1
                } else {
                    0
                };
                x.in_title == y.in_title && gap <= n as usize
            })
        })
    }

    pub(super) fn first_in_text(&self, atom: usize) -> Option<Occ> {
        self.occs
            .get(&atom)?
            .iter()
            .filter(|o| !o.in_title)
            .min_by_key(|o| o.orig_start)
            .copied()
    }

    pub(super) fn all_in_text(&mut self, atom: usize) -> Vec<Occ> {
        self.occ(atom)
            .iter()
            .filter(|o| !o.in_title)
            .copied()
            .collect()
    }
}
