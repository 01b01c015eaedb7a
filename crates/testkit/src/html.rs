//! Reading Tessera's own server-rendered pages in tests: the hidden fields of its forms.

/// Decodes the character references askama writes in attribute values: the named ones
/// (`&amp;`, `&quot;`, `&lt;`, `&gt;`) and numeric ones (`&#38;`, `&#x27;`), as a browser would.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every `<input type="hidden" name="…" value="…">` of a page, in order, values unescaped.
pub fn hidden_fields(page: &str) -> Vec<(String, String)> {
    page.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.strip_prefix("name=\"")?.split('"').next()?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            Some((unescape(name), unescape(value)))
        })
        .collect()
}

/// The hidden fields of the page's form that posts to `action` (a page may hold several forms,
/// each with its own copy of the CSRF token).
///
/// # Panics
/// When the page has no such form.
#[expect(clippy::panic, reason = "test support")]
pub fn form_fields(page: &str, action: &str) -> Vec<(String, String)> {
    let start = page
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form posting to {action} in {page}"));
    let end = page[start..]
        .find("</form>")
        .map_or(page.len(), |e| start + e);
    hidden_fields(&format!("<form {}</form>", &page[start..end]))
}

/// The value of one hidden field.
pub fn hidden(page: &str, name: &str) -> Option<String> {
    hidden_fields(page)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_what_askama_writes() {
        assert_eq!(
            super::unescape("a&#38;b=&quot;c&quot;&#x27;&lt;&amp;lt;"),
            "a&b=\"c\"'<&lt;"
        );
        assert_eq!(
            super::unescape("no entities & stray"),
            "no entities & stray"
        );
    }
}
