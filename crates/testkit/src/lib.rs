//! Test-only helpers: TestApp builder, fixtures, relying-party helpers.
