//! The request context: condition keys and their values.

/// The value of one context key: a single string or a set of strings.
///
/// A key that is present with an empty set behaves as AWS documents for "an empty data set":
/// `ForAllValues` is true, `ForAnyValue` is false, and `Null` treats it as null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextValue {
    /// A single-valued key such as `aws:username`.
    Single(String),
    /// A multivalued key such as `aws:TagKeys`.
    Multi(Vec<String>),
}

impl ContextValue {
    /// All values as a slice (one element for a single-valued key).
    pub fn as_slice(&self) -> &[String] {
        match self {
            ContextValue::Single(v) => std::slice::from_ref(v),
            ContextValue::Multi(v) => v,
        }
    }

    /// The value usable as a policy variable: only a single-valued key qualifies
    /// ("You can't use a multivalued condition key as a variable").
    pub fn as_single(&self) -> Option<&str> {
        match self {
            ContextValue::Single(v) => Some(v),
            ContextValue::Multi(_) => None,
        }
    }

    /// Whether the key counts as null for the `Null` operator and as "missing" for the others.
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, ContextValue::Multi(v) if v.is_empty())
    }
}

/// Request context. Keys are case-insensitive (ASCII), values are case-sensitive.
///
/// Keys are stored lower-cased and sorted (by length, then bytes) so that a lookup is a
/// binary search without allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    entries: Vec<(String, ContextValue)>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Context::default()
    }

    /// Set a single-valued key, replacing any previous value.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.set(key, ContextValue::Single(value.into()));
    }

    /// Set a multivalued key, replacing any previous value.
    pub fn insert_multi(&mut self, key: &str, values: Vec<String>) {
        self.set(key, ContextValue::Multi(values));
    }

    /// Add one value to a key: a missing key becomes single-valued, a present one becomes
    /// multivalued. This is how repeated `KEY=VALUE` arguments build a set.
    pub fn push(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.position(key) {
            Ok(i) => {
                let slot = &mut self.entries[i].1;
                match slot {
                    ContextValue::Single(first) => {
                        let first = std::mem::take(first);
                        *slot = ContextValue::Multi(vec![first, value]);
                    }
                    ContextValue::Multi(values) => values.push(value),
                }
            }
            Err(i) => self
                .entries
                .insert(i, (key.to_ascii_lowercase(), ContextValue::Single(value))),
        }
    }

    /// Remove a key.
    pub fn remove(&mut self, key: &str) -> Option<ContextValue> {
        self.position(key).ok().map(|i| self.entries.remove(i).1)
    }

    /// Look a key up, ignoring ASCII case.
    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        self.position(key).ok().map(|i| &self.entries[i].1)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the context has no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keys (lower-cased) and values, ordered by key length then key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ContextValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Look up a key that is already lower-case (compiled policies store keys that way).
    pub(crate) fn get_lower(&self, lower_key: &str) -> Option<&ContextValue> {
        self.entries
            .binary_search_by(|(k, _)| {
                k.len()
                    .cmp(&lower_key.len())
                    .then_with(|| k.as_str().cmp(lower_key))
            })
            .ok()
            .map(|i| &self.entries[i].1)
    }

    fn set(&mut self, key: &str, value: ContextValue) {
        match self.position(key) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => self.entries.insert(i, (key.to_ascii_lowercase(), value)),
        }
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(k, _)| cmp_lower(k.as_bytes(), key.as_bytes()))
    }
}

/// Order of the stored keys: by length, then by lower-cased bytes. Comparing lengths first
/// keeps most comparisons of a lookup away from the bytes.
/// `lower` is already lower-case; `other` is compared as if it were.
fn cmp_lower(lower: &[u8], other: &[u8]) -> std::cmp::Ordering {
    lower.len().cmp(&other.len()).then_with(|| {
        let other = other.iter().map(u8::to_ascii_lowercase);
        lower.iter().copied().cmp(other)
    })
}
