//! Keyset paging: the four static variants of a paged query, markers, and `IN` lists.
//!
//! A paged query binds the row limit (page size + 1, to learn whether a next page exists) as
//! `$1`, its filters as `$2..$k`, and, on pages after the first, the marker's key columns as
//! `$k+1..`. Numbering the marker last lets the first-page variant simply not mention it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use iotcreds_store::{Page, PageRequest, StoreError, StoreResult};

/// The four statements of a paged list: ascending or descending, first page or after a marker.
pub(crate) struct Keyset {
    pub(crate) asc_first: &'static str,
    pub(crate) asc_next: &'static str,
    pub(crate) desc_first: &'static str,
    pub(crate) desc_next: &'static str,
}

impl Keyset {
    /// The statement for `page` (given whether a marker was supplied).
    pub(crate) fn sql(&self, page: &PageRequest, has_marker: bool) -> &'static str {
        match (page.ascending, has_marker) {
            (true, false) => self.asc_first,
            (true, true) => self.asc_next,
            (false, false) => self.desc_first,
            (false, true) => self.desc_next,
        }
    }
}

/// Build a [`Keyset`] at compile time from literal fragments:
/// `keyset!(select, filter, after, before, asc, desc)` where `filter` is a condition (use
/// `"1 = 1"` for none), `after`/`before` compare the key with the marker parameters, and
/// `asc`/`desc` are the `ORDER BY` lists.
macro_rules! keyset {
    (
        select: $select:literal,
        filter: $filter:literal,
        after: $after:literal,
        before: $before:literal,
        asc: $asc:literal,
        desc: $desc:literal $(,)?
    ) => {
        $crate::paging::Keyset {
            asc_first: concat!($select, " WHERE ", $filter, " ORDER BY ", $asc, " LIMIT $1"),
            asc_next: concat!(
                $select,
                " WHERE ",
                $filter,
                " AND ",
                $after,
                " ORDER BY ",
                $asc,
                " LIMIT $1"
            ),
            desc_first: concat!(
                $select,
                " WHERE ",
                $filter,
                " ORDER BY ",
                $desc,
                " LIMIT $1"
            ),
            desc_next: concat!(
                $select,
                " WHERE ",
                $filter,
                " AND ",
                $before,
                " ORDER BY ",
                $desc,
                " LIMIT $1"
            ),
        }
    };
}
pub(crate) use keyset;

/// Largest page the store returns.
pub(crate) const MAX_PAGE: u32 = 1000;

/// The page size asked for, clamped to `1..=1000`.
pub(crate) fn page_size(page: &PageRequest) -> usize {
    page.limit.clamp(1, MAX_PAGE) as usize
}

/// The `LIMIT` to bind as `$1`: one more than the page size.
pub(crate) fn fetch_limit(page: &PageRequest) -> i64 {
    page_size(page) as i64 + 1
}

/// Encode a last key as a marker.
pub(crate) fn encode_marker(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// The key a marker stands for; `InvalidMarker` if it was not issued by [`encode_marker`].
pub(crate) fn decode_marker(page: &PageRequest) -> StoreResult<Option<String>> {
    let Some(m) = &page.marker else {
        return Ok(None);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(m.as_bytes())
        .map_err(|_| StoreError::InvalidMarker)?;
    let key = String::from_utf8(bytes).map_err(|_| StoreError::InvalidMarker)?;
    Ok(Some(key))
}

/// Split a `created_at:id` marker key (certificate lists).
pub(crate) fn split_time_marker(key: &str) -> StoreResult<(i64, String)> {
    let (t, id) = key.split_once(':').ok_or(StoreError::InvalidMarker)?;
    let t = t.parse::<i64>().map_err(|_| StoreError::InvalidMarker)?;
    Ok((t, id.to_owned()))
}

/// Turn the rows fetched with [`fetch_limit`] into a page, with a marker from `key` of the
/// last item if there are more.
pub(crate) fn finish<T>(
    mut items: Vec<T>,
    page: &PageRequest,
    key: impl Fn(&T) -> String,
) -> Page<T> {
    let size = page_size(page);
    let next_marker = if items.len() > size {
        items.truncate(size);
        items.last().map(|last| encode_marker(&key(last)))
    } else {
        None
    };
    Page { items, next_marker }
}

/// `$first, $first+1, ...` (`n` placeholders) for an `IN (...)` list.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    let mut s = String::with_capacity(n * 5);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('$');
        s.push_str(&(first + i).to_string());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_reject_garbage() {
        let page = PageRequest {
            marker: Some(encode_marker("thing-1")),
            ..PageRequest::first(10)
        };
        assert_eq!(decode_marker(&page).unwrap().as_deref(), Some("thing-1"));
        let bad = PageRequest {
            marker: Some("%%%".into()),
            ..PageRequest::first(10)
        };
        assert_eq!(decode_marker(&bad), Err(StoreError::InvalidMarker));
        assert_eq!(split_time_marker("12:ab").unwrap(), (12, "ab".to_owned()));
        assert_eq!(split_time_marker("x:ab"), Err(StoreError::InvalidMarker));
        assert_eq!(split_time_marker("12"), Err(StoreError::InvalidMarker));
    }

    #[test]
    fn placeholders_are_numbered() {
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
        assert_eq!(placeholders(1, 0), "");
    }

    #[test]
    fn finish_truncates_and_marks() {
        let p = finish(vec![1, 2, 3], &PageRequest::first(2), |i| i.to_string());
        assert_eq!(p.items, vec![1, 2]);
        assert_eq!(p.next_marker, Some(encode_marker("2")));
        let p = finish(vec![1, 2], &PageRequest::first(2), |i| i.to_string());
        assert_eq!(p.next_marker, None);
        assert_eq!(page_size(&PageRequest::first(0)), 1);
        assert_eq!(page_size(&PageRequest::first(5000)), 1000);
    }
}
