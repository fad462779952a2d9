//! The in-memory facet index of the directory: one bitmap per facet value, kept current on
//! write, and the listed entries in name order. Counting a facet value is one bitmap
//! intersection, so counts over 100,000 organisations take microseconds.

use std::collections::HashMap;

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
#[derive(Debug, Clone, Default)]
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

/// The index.
#[derive(Debug, Default)]
pub struct FacetIndex {
    docs: HashMap<u32, IndexDoc>,
    listed: RoaringBitmap,
    facets: Vec<HashMap<String, RoaringBitmap>>,
    display: HashMap<(usize, String), String>,
    order: Vec<(String, u32)>,
    order_dirty: bool,
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

    /// Adds or replaces an entry (an unlisted entry is removed from every bitmap).
    pub fn put(&mut self, doc: IndexDoc) {
        self.remove(doc.id);
        if !doc.listed {
            return;
        }
        for (facet, value) in &doc.values {
            let k = key(value);
            self.facets[*facet].entry(k.clone()).or_default().insert(doc.id);
            self.display.entry((*facet, k)).or_insert_with(|| value.clone());
        }
        self.listed.insert(doc.id);
        self.order.push((doc.sort_name.clone(), doc.id));
        self.order_dirty = true;
        self.docs.insert(doc.id, doc);
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
        if let Ok(at) = self.order_position(&(old.sort_name, id)) {
            self.order.remove(at);
        } else {
            self.order.retain(|(_, i)| *i != id);
        }
    }

    fn order_position(&mut self, cursor: &Cursor) -> Result<usize, usize> {
        self.sort_if_needed();
        self.order.binary_search(cursor)
    }

    fn sort_if_needed(&mut self) {
        if self.order_dirty {
            self.order.sort_unstable();
            self.order_dirty = false;
        }
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
    pub fn page(&mut self, result: &RoaringBitmap, after: Option<&Cursor>, limit: usize) -> (Vec<u32>, Option<Cursor>) {
        self.sort_if_needed();
        let start = after.map_or(0, |c| self.order.partition_point(|e| e <= c));
        let mut ids = Vec::with_capacity(limit);
        let mut last = None;
        let mut more = false;
        for (name, id) in &self.order[start..] {
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
}
