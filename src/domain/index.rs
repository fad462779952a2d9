//! The in-memory facet index of the directory: one bitmap per facet value, kept current on
//! write, and the listed entries in name order. Counting a facet value is one bitmap
//! intersection, so counts over 100,000 organisations take microseconds.
//!
//! Every change costs O(values + log n): the name order is a B-tree (no re-sort, ever), and
//! re-applying an entry that has not changed (refreshes re-read a few seconds of rows) returns
//! after one comparison without touching a bitmap.

use std::{
    cmp::Ordering,
    collections::{BTreeSet, HashMap},
    ops::Bound,
};

use roaring::RoaringBitmap;

/// The facets of the directory, in the order responses list them.
pub const FACETS: [&str; 8] = [
    "theme",
    "place",
    "kind",
    "way",
    "offer",
    "language",
    "community",
    "instance",
];

/// What the index needs of one directory entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexDoc {
    /// Row id.
    pub id: u32,
    /// Listed in this instance's directory.
    pub listed: bool,
    /// Lowercased name, the ordering key.
    pub sort_name: String,
    /// `(facet index into FACETS, value)` pairs; values as displayed.
    pub values: Vec<(usize, String)>,
}

/// A position in the name order: `(sort_name, id)`.
pub type Cursor = (String, u32);

/// A position in the name order as the B-tree holds it. Ordered exactly as [`Cursor`]; in test
/// builds every comparison is counted, so tests can bound the work of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OrderKey(Cursor);

#[cfg(test)]
thread_local! {
    static ORDER_COMPARISONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Comparisons of name-order positions made on this thread so far (test builds only).
#[cfg(test)]
fn order_comparisons() -> u64 {
    ORDER_COMPARISONS.with(std::cell::Cell::get)
}

impl Ord for OrderKey {
    fn cmp(&self, other: &Self) -> Ordering {
        #[cfg(test)]
        ORDER_COMPARISONS.with(|c| c.set(c.get() + 1));
        self.0.cmp(&other.0)
    }
}

impl PartialOrd for OrderKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The index.
#[derive(Debug, Default)]
pub struct FacetIndex {
    docs: HashMap<u32, IndexDoc>,
    listed: RoaringBitmap,
    facets: Vec<HashMap<String, RoaringBitmap>>,
    display: HashMap<(usize, String), String>,
    order: BTreeSet<OrderKey>,
}

fn key(value: &str) -> String {
    value.to_lowercase()
}

impl FacetIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self {
            facets: vec![HashMap::new(); FACETS.len()],
            ..Self::default()
        }
    }

    /// Adds or replaces an entry (an unlisted entry is removed from every bitmap). An entry
    /// equal to the one held changes nothing and costs one comparison.
    pub fn put(&mut self, doc: IndexDoc) {
        if !doc.listed {
            self.remove(doc.id);
            return;
        }
        if self.docs.get(&doc.id) == Some(&doc) {
            return;
        }
        self.remove(doc.id);
        for (facet, value) in &doc.values {
            let k = key(value);
            match self.facets[*facet].get_mut(&k) {
                Some(bitmap) => {
                    bitmap.insert(doc.id);
                }
                None => {
                    self.facets[*facet].insert(k.clone(), RoaringBitmap::from_iter([doc.id]));
                }
            }
            self.display.entry((*facet, k)).or_insert_with(|| value.clone());
        }
        self.listed.insert(doc.id);
        self.order.insert(OrderKey((doc.sort_name.clone(), doc.id)));
        self.docs.insert(doc.id, doc);
    }

    /// Adds or replaces many entries, in order (a later entry for an id wins).
    pub fn apply(&mut self, docs: impl IntoIterator<Item = IndexDoc>) {
        for doc in docs {
            self.put(doc);
        }
    }

    /// Removes an entry.
    pub fn remove(&mut self, id: u32) {
        let Some(old) = self.docs.remove(&id) else { return };
        for (facet, value) in &old.values {
            if let Some(bitmap) = self.facets[*facet].get_mut(&key(value)) {
                bitmap.remove(id);
            }
        }
        self.listed.remove(id);
        self.order.remove(&OrderKey((old.sort_name, id)));
    }

    /// Number of listed entries.
    pub fn len(&self) -> u64 {
        self.listed.len()
    }

    /// Whether nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// Every listed entry.
    pub fn all(&self) -> RoaringBitmap {
        self.listed.clone()
    }

    /// Entries having any of `values` for `facet` (values match case-insensitively).
    pub fn any_of(&self, facet: usize, values: &[String]) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        for v in values {
            if let Some(b) = self.facets[facet].get(&key(v)) {
                out |= b;
            }
        }
        out
    }

    /// Up to `limit` ids of `result` in name order, after `after` if given; and the cursor of
    /// the last one when more follow.
    pub fn page(&self, result: &RoaringBitmap, after: Option<&Cursor>, limit: usize) -> (Vec<u32>, Option<Cursor>) {
        let from = after.map_or(Bound::Unbounded, |c| Bound::Excluded(OrderKey(c.clone())));
        let mut ids = Vec::with_capacity(limit);
        let mut last = None;
        let mut more = false;
        for OrderKey((name, id)) in self.order.range((from, Bound::Unbounded)) {
            if !result.contains(*id) {
                continue;
            }
            if ids.len() == limit {
                more = true;
                break;
            }
            ids.push(*id);
            last = Some((name.clone(), *id));
        }
        (ids, if more { last } else { None })
    }

    /// For every facet, its values with their counts within `result`, largest first
    /// (at most `per_facet` values each, zero counts left out).
    pub fn counts(&self, result: &RoaringBitmap, per_facet: usize) -> Vec<(&'static str, Vec<(String, u64)>)> {
        FACETS
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut values: Vec<(String, u64)> = self.facets[i]
                    .iter()
                    .filter_map(|(k, b)| {
                        let n = b.intersection_len(result);
                        (n > 0).then(|| {
                            (
                                self.display.get(&(i, k.clone())).cloned().unwrap_or_else(|| k.clone()),
                                n,
                            )
                        })
                    })
                    .collect();
                values.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                values.truncate(per_facet);
                (*name, values)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: u32, name: &str, theme: &str, place: &str) -> IndexDoc {
        IndexDoc {
            id,
            listed: true,
            sort_name: name.into(),
            values: vec![(0, theme.into()), (1, place.into()), (1, place[..2].into())],
        }
    }

    #[test]
    fn filters_counts_and_pages_in_name_order() {
        let mut idx = FacetIndex::new();
        idx.put(doc(1, "zeta", "Health", "GB-MAN"));
        idx.put(doc(2, "alpha", "Health", "FR-75"));
        idx.put(doc(3, "mid", "Housing", "GB-LND"));
        let gb = idx.any_of(1, &["gb".into()]);
        assert_eq!(
            gb.iter().collect::<Vec<_>>(),
            vec![1, 3],
            "a country includes its subdivisions"
        );
        let health = idx.any_of(0, &["HEALTH".into()]);
        let both = &gb & &health;
        assert_eq!(both.len(), 1);
        let (page, next) = idx.page(&idx.all(), None, 2);
        assert_eq!(page, vec![2, 3]);
        let (rest, end) = idx.page(&idx.all(), next.as_ref(), 2);
        assert_eq!((rest, end), (vec![1], None));
        let counts = idx.counts(&idx.all(), 10);
        assert_eq!(counts[0].1[0], ("Health".to_owned(), 2));
        idx.put(IndexDoc {
            listed: false,
            ..doc(2, "alpha", "Health", "FR-75")
        });
        assert_eq!(idx.any_of(0, &["health".into()]).len(), 1, "unlisting removes it");
        assert_eq!(idx.page(&idx.all(), None, 10).0, vec![3, 1]);
    }

    fn synthetic(id: u32, name: &str) -> IndexDoc {
        IndexDoc {
            id,
            listed: true,
            sort_name: name.into(),
            values: vec![
                (0, format!("Theme{}", id % 24)),
                (1, format!("GB-R{}", id % 6)),
                (1, "GB".into()),
                (7, "example.org".into()),
            ],
        }
    }

    /// Issue 24 item 4: every re-put used to re-sort the whole name order (n comparisons or
    /// more per change, so a refresh re-reading 20,000 rows did 20,000 sorts). A change now
    /// costs O(log n) comparisons and an unchanged entry none at all.
    #[test]
    fn changes_cost_log_n_comparisons_and_unchanged_entries_none() {
        const N: u32 = 50_000;
        let mut idx = FacetIndex::new();
        idx.apply((0..N).map(|i| synthetic(i, &format!("org {:05}", u64::from(i) * 7_919 % u64::from(N)))));
        assert_eq!(idx.len(), u64::from(N));

        // Every entry renamed (so it moves in the name order), one at a time.
        let before = order_comparisons();
        for i in 0..N {
            idx.put(synthetic(
                i,
                &format!("renamed {:05}", u64::from(i) * 104_729 % u64::from(N)),
            ));
        }
        let per_change = (order_comparisons() - before) / u64::from(N);
        let log2_n = u64::from(N.ilog2() + 1);
        assert!(
            per_change <= 16 * log2_n,
            "{per_change} comparisons per change for {N} entries (a re-sort costs at least {N})"
        );

        // The same entries again (a refresh re-reading its overlap): nothing is done.
        let before = order_comparisons();
        idx.apply((0..N).map(|i| synthetic(i, &format!("renamed {:05}", u64::from(i) * 104_729 % u64::from(N)))));
        assert_eq!(order_comparisons() - before, 0, "unchanged entries are skipped");
        assert_eq!(idx.len(), u64::from(N));
        assert_eq!(idx.any_of(1, &["gb".into()]).len(), u64::from(N));
        assert_eq!(idx.any_of(0, &["theme0".into()]).len(), u64::from(N.div_ceil(24)));
    }

    #[test]
    fn the_name_order_stays_exact_through_renames_and_unlisting() {
        let mut idx = FacetIndex::new();
        let mut expected = std::collections::BTreeMap::new();
        for i in 0..2_000u32 {
            let name = format!("n{:04}", (i * 37) % 2_000);
            expected.insert((name.clone(), i), ());
            idx.put(synthetic(i, &name));
        }
        for i in (0..2_000u32).step_by(3) {
            let old = format!("n{:04}", (i * 37) % 2_000);
            expected.remove(&(old, i));
            if i % 2 == 0 {
                let name = format!("m{:04}", (i * 11) % 2_000);
                expected.insert((name.clone(), i), ());
                idx.put(synthetic(i, &name));
            } else {
                idx.put(IndexDoc {
                    listed: false,
                    ..synthetic(i, "gone")
                });
            }
        }
        let all = idx.all();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let (ids, next) = idx.page(&all, cursor.as_ref(), 7);
            seen.extend(ids);
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let want: Vec<u32> = expected.keys().map(|(_, id)| *id).collect();
        assert_eq!(seen, want);
        assert_eq!(idx.len(), want.len() as u64);
    }
}
