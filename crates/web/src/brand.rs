//! The look of every page: one stylesheet of our own (`/tessera.css`, no CDN, nothing inline, so
//! the pages' policy allows styles from `'self'` only), and the branding an operator sets for the
//! end-user pages — product name, logo file and accent colour (`TESSERA_BRAND_*`).
//!
//! Branding is process-wide, read once at start-up ([`install`]) like the log format: every
//! page template names it through [`name`] and [`has_logo`], so no page's data carries it. A
//! process that installs nothing (the tests' in-process servers) shows Tessera's own.

use std::sync::OnceLock;

use actix_web::{HttpResponse, http::header};

/// The stylesheet, before the accent colour is put in front of it.
const STYLESHEET: &str = include_str!("tessera.css");

/// Tessera's own accent colour.
pub const DEFAULT_ACCENT: &str = "#3056d3";

/// The largest logo file accepted (it is held in memory and sent with every page's header).
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// A logo: its bytes and media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// `image/svg+xml`, `image/png`, `image/jpeg` or `image/webp`.
    pub content_type: &'static str,
}

impl Logo {
    /// The logo in `bytes`, named `file_name` (its extension gives the type); an error saying
    /// what is wrong with it.
    pub fn from_file(file_name: &str, bytes: Vec<u8>) -> Result<Self, String> {
        let extension = file_name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        let content_type = match extension.as_str() {
            "svg" => "image/svg+xml",
            "png" => "image/png",
            "jpg" | "jpeg" => "image/jpeg",
            "webp" => "image/webp",
            _ => return Err("must be an .svg, .png, .jpg or .webp file".into()),
        };
        if bytes.is_empty() {
            return Err("is empty".into());
        }
        if bytes.len() > MAX_LOGO_BYTES {
            return Err(format!("is larger than {} KiB", MAX_LOGO_BYTES / 1024));
        }
        Ok(Self {
            bytes,
            content_type,
        })
    }
}

/// What the end-user pages show as the product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    /// The product name, in headers and titles.
    pub name: String,
    /// Shown before the name in the header.
    pub logo: Option<Logo>,
    /// `#rgb` or `#rrggbb`: buttons, links, the header's rule.
    pub accent: String,
}

impl Default for Brand {
    fn default() -> Self {
        Self {
            name: "Tessera".into(),
            logo: None,
            accent: DEFAULT_ACCENT.into(),
        }
    }
}

/// Whether `accent` is a colour the stylesheet takes: `#rgb` or `#rrggbb`.
pub fn valid_accent(accent: &str) -> bool {
    accent
        .strip_prefix('#')
        .is_some_and(|hex| matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether `name` can be a product name: 1 to 60 characters, no control characters.
pub fn valid_name(name: &str) -> bool {
    let trimmed = name.trim();
    !trimmed.is_empty() && trimmed.chars().count() <= 60 && !trimmed.chars().any(char::is_control)
}

static BRAND: OnceLock<Brand> = OnceLock::new();
static SHEET: OnceLock<String> = OnceLock::new();

/// Sets this process's branding; the first call wins (false when one was set already).
pub fn install(brand: Brand) -> bool {
    BRAND.set(brand).is_ok()
}

/// This process's branding.
pub fn current() -> &'static Brand {
    BRAND.get_or_init(Brand::default)
}

/// The product name the pages show.
pub fn name() -> &'static str {
    &current().name
}

/// Whether a logo was configured (the header shows `/brand/logo`).
pub fn has_logo() -> bool {
    current().logo.is_some()
}

/// The stylesheet with the accent colour in front.
pub fn stylesheet() -> &'static str {
    SHEET.get_or_init(|| format!(":root {{ --accent: {}; }}\n{STYLESHEET}", current().accent))
}

/// `GET /tessera.css`.
pub async fn get_stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(stylesheet())
}

/// `GET /brand/logo`: the configured logo, or 404. Sent with a sandboxing policy, so an SVG
/// opened on its own runs nothing in this origin.
pub async fn get_logo() -> HttpResponse {
    match &current().logo {
        Some(logo) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, logo.content_type))
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            ))
            .body(logo.bytes.clone()),
        None => HttpResponse::NotFound()
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("No logo is configured."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_are_hex_colours_only() {
        for good in ["#fff", "#3056d3", "#ABCDEF"] {
            assert!(valid_accent(good), "{good}");
        }
        for bad in [
            "fff",
            "#ffff",
            "#3056d",
            "red",
            "#12345g",
            "#fff;}body{",
            "",
        ] {
            assert!(!valid_accent(bad), "{bad}");
        }
    }

    #[test]
    fn names_are_short_printable_text() {
        assert!(valid_name("Example Identity"));
        assert!(!valid_name("  "));
        assert!(!valid_name("a\nb"));
        assert!(!valid_name(&"x".repeat(61)));
    }

    #[test]
    fn logos_are_images_of_a_bounded_size() {
        let svg = Logo::from_file("logo.SVG", b"<svg/>".to_vec()).unwrap();
        assert_eq!(svg.content_type, "image/svg+xml");
        assert!(Logo::from_file("logo.gif", vec![1]).is_err());
        assert!(Logo::from_file("logo.png", Vec::new()).is_err());
        assert!(Logo::from_file("logo.png", vec![0; MAX_LOGO_BYTES + 1]).is_err());
    }

    #[test]
    fn the_stylesheet_starts_with_the_accent() {
        assert!(stylesheet().starts_with(":root { --accent: #3056d3; }"));
        assert!(stylesheet().contains("--accent"));
    }
}
