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
}
