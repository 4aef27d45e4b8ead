//! "Did you mean": one rule of closeness for every suggestion, and an index that applies it to
//! a userName or displayName that names nobody, among every declared one.
//!
//! A name is suggested when it is exactly one edit away, case-insensitively (a character
//! inserted, deleted or replaced, or two neighbours swapped), or differs only in case: close
//! enough to be a typo, never a different name (`bob@acme.io` is two edits from
//! `ada@acme.io`, and gets no suggestion). [`closest`] applies it to a few candidates (keys,
//! provider names, role values), [`Suggestions`] to many.
//!
//! Comparing the name with each declared one would make a config with many such mistakes take
//! time in proportion to mistakes × names: 20,000 unresolved members among 100,000 users are
//! two billion comparisons. Instead, each declared name is indexed under the hash of every
//! string it gives with one character deleted, and of itself; a name one edit away (a
//! character inserted, deleted or replaced, or two neighbours swapped) shares one of those
//! with the name looked up, so a lookup costs one probe per character of the name.
//!
//! SCIM matches userNames and displayNames without regard to case, so such a name differing
//! only in case resolves and needs no suggestion: the index looks for one edit only.

use std::hash::{BuildHasher, Hasher};

use foldhash::fast::FixedState;

/// The most declared names compared with one name looked up: the names a pathological config
/// makes share one deleted form by the thousand (`a1`, `a2`, … all give `a`). Past it, a
/// suggestion may be missed; the error is reported all the same.
const MAX_CANDIDATES: usize = 64;

/// The declared names, indexed for [`Suggestions::nearest`].
pub(crate) struct Suggestions {
    /// (hash, index of the name), sorted: each name under its own hash and under that of each
    /// of its one-deletion forms.
    table: Vec<(u64, u32)>,
    /// Where in `table` the hashes whose top bits are `b` start, at `starts[b]`: a lookup
    /// goes straight to the few entries it may match instead of searching the whole table,
    /// which for 100,000 names holds over two million entries.
    starts: Vec<u32>,
    /// How far a hash is shifted right to give its top bits.
    shift: u32,
    hasher: FixedState,
}

impl Suggestions {
    /// Indexes `names`, in declaration order (a tie goes to the first declared).
    pub(crate) fn new<'a>(names: impl Iterator<Item = &'a str>) -> Self {
        let hasher = FixedState::with_seed(0x5c1f_0f0e);
        let mut table = Vec::new();
        let mut chars = Vec::new();
        for (i, name) in names.enumerate() {
            lower_chars(name, &mut chars);
            let i = u32::try_from(i).expect("fewer than 2^32 names");
            table.push((hash_without(&hasher, &chars, None), i));
            for skip in 0..chars.len() {
                table.push((hash_without(&hasher, &chars, Some(skip)), i));
            }
        }
        table.sort_unstable();
        table.dedup();
        // About one entry per bucket.
        let bits = table.len().next_power_of_two().trailing_zeros().max(1);
        let shift = 64 - bits;
        let mut starts = Vec::with_capacity((1 << bits) + 1);
        let mut at = 0;
        for bucket in 0..=(1_u64 << bits) {
            while at < table.len() && table[at].0 >> shift < bucket {
                at += 1;
            }
            starts.push(u32::try_from(at).expect("fewer than 2^32 entries"));
        }
        Suggestions {
            table,
            starts,
            shift,
            hasher,
        }
    }

    /// The indexes of the names stored under `hash`.
    fn under(&self, hash: u64) -> impl Iterator<Item = u32> + '_ {
        let bucket = (hash >> self.shift) as usize;
        let (from, to) = (
            self.starts[bucket] as usize,
            self.starts[bucket + 1] as usize,
        );
        self.table[from..to]
            .iter()
            .filter(move |&&(h, _)| h == hash)
            .map(|&(_, i)| i)
    }

    /// The index of the first declared name one edit from `word`, if any; `name(i)` gives the
    /// name at index `i`.
    pub(crate) fn nearest<'a>(&self, word: &str, name: impl Fn(usize) -> &'a str) -> Option<usize> {
        let mut chars = Vec::new();
        lower_chars(word, &mut chars);
        let mut candidates: Vec<u32> = Vec::new();
        let probes = std::iter::once(None).chain((0..chars.len()).map(Some));
        for skip in probes {
            candidates.extend(self.under(hash_without(&self.hasher, &chars, skip)));
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut other = Vec::new();
        candidates
            .into_iter()
            .take(MAX_CANDIDATES)
            .map(|i| i as usize)
            .find(|&i| {
                lower_chars(name(i), &mut other);
                one_edit_apart(&chars, &other)
            })
    }
}

/// The first of `candidates` that `word` is close to: equal but for case, or else one edit
/// away (case-insensitively).
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
    let mut word_chars = Vec::new();
    lower_chars(word, &mut word_chars);
    let mut other = Vec::new();
    let mut lowered = |candidate: &str| {
        lower_chars(candidate, &mut other);
        other.clone()
    };
    candidates
        .clone()
        .find(|c| lowered(c) == word_chars)
        .or_else(|| {
            candidates
                .into_iter()
                .find(|c| one_edit_apart(&word_chars, &lowered(c)))
        })
}

fn lower_chars(text: &str, out: &mut Vec<char>) {
    out.clear();
    out.extend(text.chars().flat_map(char::to_lowercase));
}

/// The hash of `chars` without the one at `skip`.
fn hash_without(state: &FixedState, chars: &[char], skip: Option<usize>) -> u64 {
    let mut hasher = state.build_hasher();
    for (i, &c) in chars.iter().enumerate() {
        if Some(i) != skip {
            hasher.write_u32(u32::from(c));
        }
    }
    // The length, so that a deleted form never hashes as the whole name it came from.
    hasher.write_usize(chars.len() - usize::from(skip.is_some()));
    hasher.finish()
}

/// Whether `a` becomes `b` with at most one character inserted, deleted or changed, or two
/// neighbours swapped.
pub(crate) fn within_one_edit(a: &[char], b: &[char]) -> bool {
    a == b || one_edit_apart(a, b)
}

/// Whether `a` and `b` differ by exactly one insertion, deletion, substitution or swap of
/// neighbouring characters.
fn one_edit_apart(a: &[char], b: &[char]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let prefix = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    match long.len() - short.len() {
        0 => {
            if prefix == short.len() {
                return false;
            }
            // One substitution, or one swap of neighbours.
            short[prefix + 1..] == long[prefix + 1..]
                || (prefix + 1 < short.len()
                    && short[prefix] == long[prefix + 1]
                    && short[prefix + 1] == long[prefix]
                    && short[prefix + 2..] == long[prefix + 2..])
        }
        1 => short[prefix..] == long[prefix + 1..],
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nearest(names: &[&str], word: &str) -> Option<String> {
        let suggestions = Suggestions::new(names.iter().copied());
        suggestions
            .nearest(word, |i| names[i])
            .map(|i| names[i].to_owned())
    }

    #[test]
    fn one_edit_away_is_suggested() {
        let names = ["ada@example.com", "grace@example.com", "Alan@Example.com"];
        for (typo, meant) in [
            ("ada@exmaple.com", "ada@example.com"),
            ("ada@example.co", "ada@example.com"),
            ("adda@example.com", "ada@example.com"),
            ("ada@exbmple.com", "ada@example.com"),
            ("grace@example.con", "grace@example.com"),
            ("ALAN@EXAMPLE.CO", "Alan@Example.com"),
        ] {
            assert_eq!(nearest(&names, typo).as_deref(), Some(meant), "{typo}");
        }
    }

    #[test]
    fn further_or_nothing_alike_is_not() {
        let names = ["ada@acme.io", "ab", "abcd"];
        assert_eq!(nearest(&names, "bob@acme.io"), None);
        assert_eq!(nearest(&names, "cadb"), None);
        assert_eq!(nearest(&names, "xyz"), None);
        assert_eq!(nearest(&[], "ada"), None);
    }

    #[test]
    fn the_first_declared_wins_a_tie() {
        assert_eq!(nearest(&["abd", "abc"], "abx").as_deref(), Some("abd"));
    }

    #[test]
    fn closest_is_case_or_one_edit() {
        let keys = ["userName", "displayName", "emails"];
        let near = |word: &str| closest(word, keys.iter().copied());
        assert_eq!(near("username"), Some("userName"));
        assert_eq!(near("emials"), Some("emails"));
        assert_eq!(near("user_name"), Some("userName"));
        assert_eq!(near("colour"), None);
        assert_eq!(near("mails"), Some("emails"));
        assert_eq!(near("mail"), None);
        assert_eq!(
            closest("titel", ["type", "title"].into_iter()),
            Some("title")
        );
        assert_eq!(closest("corpp", ["corp"].into_iter()), Some("corp"));
        assert_eq!(closest("bob@acme.io", ["Ada@acme.io"].into_iter()), None);
        assert_eq!(
            closest(
                "SYSTEM_USR",
                ["PROCESS_CONTRIBUTOR", "SYSTEM_USER"].into_iter()
            ),
            Some("SYSTEM_USER")
        );
    }

    /// Edit distance counting a swap of two neighbouring characters as one edit (optimal
    /// string alignment), the definition [`within_one_edit`] must agree with.
    fn edit_distance(a: &[char], b: &[char]) -> usize {
        let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        for (j, cell) in d[0].iter_mut().enumerate() {
            *cell = j;
        }
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut best = (d[i - 1][j] + 1)
                    .min(d[i][j - 1] + 1)
                    .min(d[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    best = best.min(d[i - 2][j - 2] + 1);
                }
                d[i][j] = best;
            }
        }
        d[a.len()][b.len()]
    }

    #[test]
    fn one_edit_agrees_with_the_edit_distance() {
        let letters = ['t', 'o', 'k', 'e', 'n', 'x'];
        let token: Vec<char> = "token".chars().collect();
        // Every word of 3 to 6 of these letters: 6^3 + ... + 6^6 words.
        for length in 3..=6u32 {
            for mut n in 0..6usize.pow(length) {
                let word: Vec<char> = (0..length)
                    .map(|_| {
                        let c = letters[n % 6];
                        n /= 6;
                        c
                    })
                    .collect();
                assert_eq!(
                    within_one_edit(&word, &token),
                    edit_distance(&word, &token) <= 1,
                    "{word:?}"
                );
            }
        }
    }

    #[test]
    fn one_edit() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        let apart = |a: &str, b: &str| one_edit_apart(&chars(a), &chars(b));
        assert!(apart("abc", "abd"));
        assert!(apart("abc", "acb"));
        assert!(apart("abc", "ab"));
        assert!(apart("abc", "xabc"));
        assert!(!apart("abc", "abc"));
        assert!(!apart("abc", "cba"));
        assert!(!apart("abc", "a"));
        assert!(!apart("abcd", "badc"));
    }
}
