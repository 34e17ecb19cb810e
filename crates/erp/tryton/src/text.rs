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
/// at most `max_chars` characters (cut on a character boundary, ending in `…` when cut).
pub fn char_field(value: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(value.len());
    let mut in_run = false;
    for c in value.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            if !in_run {
                out.push(' ');
                in_run = true;
            }
        } else {
            out.push(c);
            in_run = false;
        }
    }
    truncate(out.trim(), max_chars)
}

/// A value for a Tryton `Text` field: line breaks and tabs are kept (`\r\n` and `\r` become
/// `\n`), every other control character (NUL included) becomes a space; at most `max_chars`
/// characters.
pub fn text_field(value: &str, max_chars: usize) -> String {
    let normalized = value.replace("\r\n", "\n").replace('\r', "\n");
    let cleaned: String = normalized
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                ' '
            } else {
                c
            }
        })
        .collect();
    truncate(cleaned.trim(), max_chars)
}

/// `value` cut to at most `max_chars` characters; a cut value ends in `…` (counted).
fn truncate(value: &str, max_chars: usize) -> String {
    if value.chars().count() <= max_chars {
        return value.to_owned();
    }
    if max_chars == 0 {
        return String::new();
    }
    let keep = max_chars.saturating_sub(1);
    let mut out: String = value.chars().take(keep).collect();
    // Do not end on whitespace before the ellipsis.
    let trimmed_len = out.trim_end().len();
    out.truncate(trimmed_len);
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_single_spaces() {
        assert_eq!(
            char_field("Please\r\nleave at\tthe door\u{0}\u{b}\u{c}!", 100),
            "Please leave at the door !"
        );
        assert_eq!(char_field("\n\n  note  \r", 100), "note");
        assert_eq!(char_field("a\u{2028}b\u{85}c", 100), "a b c");
        // Nothing Tryton forbids is left.
        let cleaned = char_field("x\ty\nz\r\u{b}\u{c}\u{0}\u{7f}", 100);
        assert!(!cleaned.chars().any(char::is_control), "{cleaned:?}");
    }

    #[test]
    fn text_fields_keep_line_breaks_but_not_nul() {
        assert_eq!(text_field("a\r\nb\rc\u{0}d\te", 100), "a\nb\nc d\te");
    }

    #[test]
    fn truncation_is_on_char_boundaries() {
        assert_eq!(char_field("短い説明です", 4), "短い説…");
        assert_eq!(char_field("😀😀😀", 3), "😀😀😀");
        assert_eq!(char_field("😀😀😀😀", 3), "😀😀…");
        assert_eq!(char_field("ab cd", 4), "ab…");
        assert_eq!(char_field("abc", 0), "");
        let long = "é".repeat(CHAR_MAX * 2);
        let cut = char_field(&long, CHAR_MAX);
        assert_eq!(cut.chars().count(), CHAR_MAX);
        assert!(cut.ends_with('…'));
        assert_eq!(text_field(&"x".repeat(10), 5), "xxxx…");
    }
}
