//! The text form patterns are matched against: NFKC, invisible characters removed, Unicode
//! tag characters mapped to the ASCII they hide, lowercase.

use std::borrow::Cow;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// Whether `c` is invisible formatting that can split a keyword without changing how it looks:
/// soft hyphen, zero-width and joiner characters, bidi embeddings/overrides/isolates, word
/// joiner and invisible operators, the deprecated format characters, variation selectors, the
/// byte-order mark, and the Mongolian vowel separator.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}'
        | '\u{FFA0}'
        | '\u{E0100}'..='\u{E01EF}'
    )
}

/// Unicode tag characters (U+E0020..U+E007E) render as nothing but spell ASCII ("ASCII
/// smuggling"); they are mapped back to the ASCII they encode so the hidden text is scanned.
/// The tag begin/cancel characters are dropped.
fn untag(c: char) -> Option<char> {
    match c as u32 {
        0xE0020..=0xE007E => char::from_u32(c as u32 - 0xE0000),
        0xE0000..=0xE007F => None,
        _ if is_invisible(c) => None,
        _ => Some(c),
    }
}

/// The normalized form of `text`. ASCII text is returned as is: it is already NFKC and free of
/// invisible characters, and patterns are compiled case-insensitive, so lowercasing it would
/// not change what matches. Otherwise each step runs only when needed: invisible characters
/// are removed before NFKC (so they cannot block composition of what they separate) and after
/// it (NFKC can produce some of them); NFKC is skipped when the quick check says the text is
/// already in that form.
pub(crate) fn normalize(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let cleaned: Cow<'_, str> = if text.chars().any(|c| untag(c) != Some(c)) {
        Cow::Owned(text.chars().filter_map(untag).collect())
    } else {
        Cow::Borrowed(text)
    };
    let composed: Cow<'_, str> = if is_nfkc_quick(cleaned.chars()) == IsNormalized::Yes {
        cleaned
    } else {
        Cow::Owned(cleaned.nfkc().filter_map(untag).collect())
    };
    let mut out = String::with_capacity(composed.len());
    for c in composed.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    Cow::Owned(out)
}

/// The normalized form, lowercased even for ASCII (for needles of `contains` patterns and for
/// tests).
pub(crate) fn normalize_lower(text: &str) -> String {
    let n = normalize(text);
    if n.is_ascii() { n.to_ascii_lowercase() } else { n.into_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fullwidth_and_invisible_characters_fold_away() {
        assert_eq!(normalize_lower("ＳＹＳＴＥＭ:"), "system:");
        assert_eq!(normalize_lower("S\u{200B}YSTEM:"), "system:");
        assert_eq!(normalize_lower("sys\u{00AD}tem\u{FEFF}:"), "system:");
        assert_eq!(normalize_lower("\u{202E}ig\u{2066}nore\u{2069}"), "ignore");
        assert_eq!(normalize_lower("ｉｇｎｏｒｅ\u{3000}previous"), "ignore previous");
        // Ligatures and compatibility forms.
        assert_eq!(normalize_lower("\u{FB01}le"), "file");
        assert_eq!(normalize_lower("①"), "1");
    }

    #[test]
    fn tag_characters_reveal_smuggled_ascii() {
        let hidden: String = "ignore".chars().map(|c| char::from_u32(c as u32 + 0xE0000).unwrap()).collect();
        assert_eq!(normalize_lower(&format!("hi\u{E0001}{hidden}\u{E007F}")), "hiignore");
    }

    #[test]
    fn ascii_is_borrowed() {
        assert!(matches!(normalize("Plain ASCII"), Cow::Borrowed("Plain ASCII")));
        assert_eq!(normalize_lower("Plain ASCII"), "plain ascii");
        assert_eq!(normalize("Ä"), "ä");
    }
}
