//! Marketplace text made safe for an ERP's text fields.
//!
//! Marketplace text (buyer notes, titles, references) can hold line breaks, tabs, NUL and other
//! control characters, and be arbitrarily long; ERPs refuse some of them (Tryton's `Char`
//! fields refuse `\t \n \r \x0b \x0c`, PostgreSQL-backed ERPs refuse NUL) or cap lengths, and a
//! refused write would make the document unpostable forever. ERP adapters clean text with these
//! two functions before they send it, with their own field limits; the canonical record and its
//! raw payload keep the original.
//!
//! ```
//! use marketsync_core::text::{multi_line, single_line};
//!
//! assert_eq!(single_line("Please\r\nleave at\tthe door\u{0}!", 100), "Please leave at the door !");
//! assert_eq!(multi_line("a\r\nb\u{0}c", 100), "a\nb c");
//! assert_eq!(single_line("天猫旗舰店订单", 4), "天猫旗…");
//! ```

/// A value for a single-line field: each run of control characters (line and paragraph
/// separators included) becomes one space; trimmed; at most `max_chars` characters (cut on a
/// character boundary, ending in `…` when cut).
pub fn single_line(value: &str, max_chars: usize) -> String {
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
    truncate_chars(out.trim(), max_chars)
}

/// A value for a multi-line field (a text area): `\r\n` and `\r` become `\n`; line breaks and
/// tabs are kept; every other control character (NUL included) becomes a space; trimmed; at most
/// `max_chars` characters.
pub fn multi_line(value: &str, max_chars: usize) -> String {
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
    truncate_chars(cleaned.trim(), max_chars)
}

/// `value` cut to at most `max_chars` characters on a character boundary; a cut value ends in
/// `…` (counted), with no whitespace before it.
pub fn truncate_chars(value: &str, max_chars: usize) -> String {
    if value.chars().count() <= max_chars {
        return value.to_owned();
    }
    if max_chars == 0 {
        return String::new();
    }
    let mut out: String = value.chars().take(max_chars.saturating_sub(1)).collect();
    let trimmed_len = out.trim_end().len();
    out.truncate(trimmed_len);
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_loses_control_characters_not_text() {
        assert_eq!(
            single_line("买家留言:\r\n请放门口\t谢谢\u{0}!", 100),
            "买家留言: 请放门口 谢谢 !"
        );
        assert_eq!(single_line("\n\n  note  \r", 100), "note");
        let cleaned = single_line("a\u{1}\u{7f}\u{85}\u{2028}b", 100);
        assert_eq!(cleaned, "a b");
        assert!(!cleaned.chars().any(char::is_control));
    }

    #[test]
    fn multi_line_keeps_line_breaks_and_tabs_but_not_nul() {
        assert_eq!(multi_line("a\r\nb\rc\u{0}d\te", 100), "a\nb\nc d\te");
    }

    #[test]
    fn cuts_are_on_character_boundaries() {
        assert_eq!(single_line("🍵🍵🍵", 3), "🍵🍵🍵");
        assert_eq!(single_line("🍵🍵🍵🍵", 2), "🍵…");
        assert_eq!(single_line("ab cd", 4), "ab…");
        assert_eq!(multi_line("abcdef", 0), "");
        assert_eq!(multi_line(&"x".repeat(10), 5), "xxxx…");
        let long = "ü".repeat(301);
        let cut = single_line(&long, 300);
        assert_eq!(cut.chars().count(), 300);
        assert!(cut.ends_with('…'));
    }
}
