//! Links a tenant stores (consent documents, default reset and confirmation pages): absolute
//! http(s) URLs only, so none can run script where it is rendered (`javascript:`, `data:`).

/// Parses an absolute `http` or `https` URL with a host; anything else is refused with a
/// message naming what was given.
pub fn http_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| {
        format!("{text:?} is not an http(s) URL like https://example.com/terms ({e})")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "{text:?} is not an http(s) URL like https://example.com/terms"
        ));
    }
    Ok(url)
}

/// Whether `text` is an absolute http(s) URL: what may be rendered as a link.
pub fn is_http_url(text: &str) -> bool {
    http_url(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https() {
        assert!(is_http_url("https://example.com/terms"));
        assert!(is_http_url("http://127.0.0.1:8080/t?x=1"));
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
            "file:///etc/passwd",
            "ftp://example.com/x",
            "//example.com/terms",
            "/terms",
            "https://",
            "",
        ] {
            assert!(!is_http_url(bad), "{bad:?}");
        }
    }
}
