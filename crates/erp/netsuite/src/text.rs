//! Marketplace text made safe for NetSuite's field rules.
//!
//! Transaction `memo`, line `memo` and `otherRefNum` are single-line free-form text fields;
//! item-line `description` is a text area. Marketplace text (buyer notes, titles, references)
//! can hold line breaks, tabs, NUL and other control characters, and be arbitrarily long. It is
//! cleaned before it is sent: in single-line fields every run of control characters becomes one
//! space; in text areas line breaks and tabs stay and other control characters become spaces;
//! values are trimmed and cut to the field's length on a character boundary (a cut value ends
//! in `…`). The canonical record and its raw payload keep the original text.
//!
//! The limits are conservative: NetSuite documents 300 characters for free-form text and 4,000
//! for text areas.

/// The most characters the adapter writes into a single-line free-form text field.
pub const FREE_FORM_MAX: usize = 300;

/// The most characters the adapter writes into a text area.
pub const TEXT_AREA_MAX: usize = 4000;

/// A value for a single-line field: each run of control characters → one space, trimmed, at
/// most `max_chars` characters (the shared rule of [`marketsync_core::text`]).
pub use marketsync_core::text::single_line;

/// A value for a text area: line breaks and tabs kept, other control characters → spaces, at
/// most `max_chars` characters (the shared rule of [`marketsync_core::text`]).
pub use marketsync_core::text::multi_line as text_area;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netsuite_fields_get_their_limits_and_no_control_characters() {
        let note = format!("买家留言:\r\n{}\u{0}", "请放门口".repeat(200));
        let memo = single_line(&note, FREE_FORM_MAX);
        assert_eq!(memo.chars().count(), FREE_FORM_MAX);
        assert!(!memo.chars().any(char::is_control));
        assert!(memo.ends_with('…'));
        let area = text_area(&note, TEXT_AREA_MAX);
        assert!(area.starts_with("买家留言:\n"));
        assert!(!area.contains('\u{0}'));
    }
}
