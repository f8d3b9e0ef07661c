//! Evaluating a watch against one article's occurrences: terms, exclusions, and the query
//! tree with its `NEAR` distances. Regexes run only when a candidate watch asks for them.

use std::collections::HashMap;

use super::{CompiledWatch, Cond, Matcher, Occ, Pattern, fold};

pub(super) struct Ctx<'m> {
    m: &'m Matcher,
    title: &'m str,
    text: &'m str,
    occs: HashMap<usize, Vec<Occ>>,
    /// Word start offsets of the title and the text, built for the first `NEAR`.
    words: [Option<Vec<usize>>; 2],
}

impl<'m> Ctx<'m> {
    pub(super) fn new(
        m: &'m Matcher,
        title: &'m str,
        text: &'m str,
        occs: HashMap<usize, Vec<Occ>>,
    ) -> Self {
        Ctx {
            m,
            title,
            text,
            occs,
            words: [None, None],
        }
    }

    fn occ(&mut self, atom: usize) -> &[Occ] {
        if let Pattern::Regex(re) = &self.m.atoms[atom].pattern
            && !self.occs.contains_key(&atom)
        {
            let field = self.m.atoms[atom].field;
            let mut found = Vec::new();
            for (hay, in_title) in [(self.title, true), (self.text, false)] {
                if super::field_ok(field, in_title) {
                    found.extend(re.find_iter(hay).filter(|m| !m.is_empty()).map(|m| Occ {
                        in_title,
                        start: m.start(),
                        end: m.end(),
                    }));
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

    fn eval(&mut self, c: &Cond) -> bool {
        match c {
            Cond::Atom(a) => self.hit(*a),
            Cond::And(v) => v.iter().all(|x| self.eval(x)),
            Cond::Or(v) => v.iter().any(|x| self.eval(x)),
            Cond::Not(x) => !self.eval(x),
            Cond::Near(a, b, n) => self.near_any(a, b, *n),
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
            Cond::Near(a, b, n) => {
                if negated {
                    return;
                }
                for &x in a {
                    for &y in b {
                        if self.near(x, y, *n) {
                            out.extend([x, y]);
                        }
                    }
                }
            }
        }
    }

    fn near_any(&mut self, a: &[usize], b: &[usize], n: u32) -> bool {
        a.iter().any(|&x| b.iter().any(|&y| self.near(x, y, n)))
    }

    /// Whether some occurrence of `a` and of `b`, in the same field, have at most `n` words
    /// between them.
    fn near(&mut self, a: usize, b: usize, n: u32) -> bool {
        let (oa, ob) = (self.occ(a).to_vec(), self.occ(b).to_vec());
        if oa.is_empty() || ob.is_empty() {
            return false;
        }
        for in_title in [true, false] {
            let words = self.words(in_title);
            let span = |o: &Occ| {
                let first = words.partition_point(|&s| s <= o.start).saturating_sub(1);
                let last = words.partition_point(|&s| s < o.end).saturating_sub(1);
                (first, last)
            };
            let pa: Vec<_> = oa
                .iter()
                .filter(|o| o.in_title == in_title)
                .map(span)
                .collect();
            let pb: Vec<_> = ob
                .iter()
                .filter(|o| o.in_title == in_title)
                .map(span)
                .collect();
            for &(a0, a1) in &pa {
                for &(b0, b1) in &pb {
                    let gap = if a1 < b0 {
                        b0 - a1 - 1
                    } else if b1 < a0 {
                        a0 - b1 - 1
                    } else {
                        0
                    };
                    if gap <= n as usize {
                        return true;
                    }
                }
            }
        }
        false
    }

    fn words(&mut self, in_title: bool) -> Vec<usize> {
        let i = usize::from(!in_title);
        let hay = if in_title { self.title } else { self.text };
        self.words[i]
            .get_or_insert_with(|| fold::word_starts(hay))
            .clone()
    }

    pub(super) fn first_in_text(&self, atom: usize) -> Option<Occ> {
        self.occs
            .get(&atom)?
            .iter()
            .filter(|o| !o.in_title)
            .min_by_key(|o| o.start)
            .copied()
    }
}
