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

/// A value for a single-line field: each run of control characters (line and paragraph
/// separators included) → one space, trimmed, at most `max_chars` characters.
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
    truncate(out.trim(), max_chars)
}

/// A value for a text area: `\r\n` and `\r` → `\n`; line breaks and tabs kept; every other
/// control character (NUL included) → a space; trimmed; at most `max_chars` characters.
pub fn text_area(value: &str, max_chars: usize) -> String {
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
    fn single_line_fields_lose_control_characters_not_text() {
        assert_eq!(
            single_line("买家留言:\r\n请放门口\t谢谢\u{0}!", 100),
            "买家留言: 请放门口 谢谢 !"
        );
        let cleaned = single_line("a\u{1}\u{7f}\u{85}\u{2028}b", 100);
        assert_eq!(cleaned, "a b");
        assert!(!cleaned.chars().any(char::is_control));
    }

    #[test]
    fn text_areas_keep_line_breaks() {
        assert_eq!(text_area("a\r\nb\rc\u{0}d", 100), "a\nb\nc d");
    }

    #[test]
    fn cuts_are_on_character_boundaries() {
        assert_eq!(single_line("天猫旗舰店订单", 4), "天猫旗…");
        assert_eq!(single_line("🍵🍵🍵", 3), "🍵🍵🍵");
        assert_eq!(single_line("🍵🍵🍵🍵", 2), "🍵…");
        let long = "ü".repeat(FREE_FORM_MAX + 1);
        let cut = single_line(&long, FREE_FORM_MAX);
        assert_eq!(cut.chars().count(), FREE_FORM_MAX);
        assert!(cut.ends_with('…'));
        assert_eq!(text_area("abcdef", 0), "");
    }
}
