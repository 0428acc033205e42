//! `maxResults` / `nextToken` paging.

use crate::error::ApiError;

/// AWS's page size when `maxResults` is 0 or absent.
const DEFAULT_PAGE: usize = 100;

/// A checked page size (`maxResults` 0..=1000; 0 means the default).
pub(crate) fn page_size(max_results: Option<i64>) -> Result<usize, ApiError> {
    match max_results {
        None | Some(0) => Ok(DEFAULT_PAGE),
        Some(n @ 1..=1000) => Ok(n as usize),
        Some(n) => Err(ApiError::validation(format!(
            "invalid maxResults {n}: must be between 0 and 1000"
        ))),
    }
}

/// One page of `items` for `maxResults` and `nextToken`, each item mapped with `f`, and the
/// token of the page after it (`None` on the last page). The list operations share it.
pub(crate) fn page<'a, T, U>(
    items: &'a [T],
    max_results: Option<i64>,
    next_token: Option<&str>,
    f: impl FnMut(&'a T) -> U,
) -> Result<(Vec<U>, Option<String>), ApiError> {
    let size = page_size(max_results)?;
    let start = position(next_token)?.unwrap_or(0);
    let page = items.iter().skip(start).take(size).map(f).collect();
    let next = (start.saturating_add(size) < items.len()).then(|| token(start + size));
    Ok((page, next))
}

/// Encodes a position as an opaque token.
pub(crate) fn token(pos: usize) -> String {
    format!("stefuna-local-page-{pos}")
}

/// Decodes a token made by [`token`].
pub(crate) fn position(next_token: Option<&str>) -> Result<Option<usize>, ApiError> {
    let Some(t) = next_token else { return Ok(None) };
    t.strip_prefix("stefuna-local-page-")
        .and_then(|n| n.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                "InvalidToken",
                format!("invalid nextToken '{t}': pass the nextToken of a previous answer"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(position(Some(&token(42))).unwrap(), Some(42));
        assert_eq!(position(None).unwrap(), None);
        assert_eq!(position(Some("x")).unwrap_err().code, "InvalidToken");
        assert_eq!(page_size(Some(0)).unwrap(), 100);
        assert_eq!(
            page_size(Some(1001)).unwrap_err().code,
            "ValidationException"
        );
    }

    #[test]
    fn pages_walk_the_items_in_order() {
        let items: Vec<u32> = (0..5).collect();
        let (first, next) = page(&items, Some(2), None, |i| *i).unwrap();
        assert_eq!(first, [0, 1]);
        let (second, next) = page(&items, Some(2), next.as_deref(), |i| *i).unwrap();
        assert_eq!(second, [2, 3]);
        let (last, next) = page(&items, Some(2), next.as_deref(), |i| *i).unwrap();
        assert_eq!((last, next), (vec![4], None));
    }
}
