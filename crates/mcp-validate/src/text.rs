//! Small helpers that keep attacker-controlled text bounded when it appears in messages.

/// Longest JSON pointer (bytes) reproduced in an error or violation.
pub(crate) const MAX_POINTER_LEN: usize = 200;

/// `s` cut to at most `max` bytes on a character boundary, with `…` appended when it was cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end + 3);
    out.push_str(&s[..end]);
    out.push('…');
    out
}

/// A JSON pointer cut to [`MAX_POINTER_LEN`].
pub(crate) fn pointer(s: &str) -> String {
    truncate(s, MAX_POINTER_LEN)
}

/// Appends one reference token to a JSON pointer (RFC 6901 escaping of `~` and `/`).
pub(crate) fn push_token(ptr: &str, token: &str) -> String {
    let mut out = String::with_capacity(ptr.len() + token.len() + 1);
    out.push_str(ptr);
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

/// Appends an array index to a JSON pointer.
pub(crate) fn push_index(ptr: &str, index: usize) -> String {
    format!("{ptr}/{index}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_char_boundary() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "abc…");
        // 'é' is two bytes: cutting at 2 would split it.
        assert_eq!(truncate("aé", 2), "a…");
        assert_eq!(truncate("", 0), "");
    }

    #[test]
    fn pointer_escaping() {
        assert_eq!(push_token("", "a/b~c"), "/a~1b~0c");
        assert_eq!(push_index("/x", 3), "/x/3");
    }
}
