//! Marketplace text made safe for Tryton's field rules.
//!
//! Tryton 8 refuses a `Char` value containing any of `\t \n \r \x0b \x0c`
//! (`trytond.model.fields.Char.forbidden_chars`): the whole write fails with a `UserError`, and a
//! buyer's note with a line break would make its document unpostable forever. PostgreSQL refuses
//! NUL in any text column (an `Unexpected` server error). Marketplace text (order titles, memos,
//! references) is therefore cleaned before it is sent: every run of control characters becomes one
//! space, the ends are trimmed, and the value is cut to a maximum number of characters (never
//! inside a character). Nothing is lost for good: the canonical record and its raw payload keep
//! the original text.

/// The most characters the adapter writes into one `Char` field (Tryton's are unbounded
/// `VARCHAR`s; this keeps list views and reports readable).
pub const CHAR_MAX: usize = 512;

/// The most characters the adapter writes into one `Text` field.
pub const TEXT_MAX: usize = 4000;

/// A value for a Tryton `Char` field: no control characters (each run → one space), trimmed,
/// at most `max_chars` characters (the shared rule of [`marketsync_core::text`]).
pub use marketsync_core::text::single_line as char_field;

/// A value for a Tryton `Text` field: line breaks and tabs kept (`\r\n` and `\r` become `\n`),
/// every other control character (NUL included) becomes a space; at most `max_chars`
/// characters (the shared rule of [`marketsync_core::text`]).
pub use marketsync_core::text::multi_line as text_field;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_tryton_forbids_is_left() {
        // trytond.model.fields.Char.forbidden_chars, plus NUL (PostgreSQL).
        let cleaned = char_field("x\ty\nz\r\u{b}\u{c}\u{0}\u{7f}", CHAR_MAX);
        assert!(!cleaned.chars().any(char::is_control), "{cleaned:?}");
        let long = "é".repeat(CHAR_MAX * 2);
        assert_eq!(char_field(&long, CHAR_MAX).chars().count(), CHAR_MAX);
        assert_eq!(text_field("a\r\nb\u{0}", TEXT_MAX), "a\nb");
    }
}
