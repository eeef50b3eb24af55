//! The bounded glob that LIST and NLST apply to the last path component.

/// Work limit for one [`glob_match`] call; past it the name counts as not matching.
pub const GLOB_STEP_BUDGET: u32 = 100_000;

/// Whether a path argument contains glob characters (`*`, `?`, `[`).
pub fn has_glob(p: &[u8]) -> bool {
    p.iter().any(|&b| matches!(b, b'*' | b'?' | b'['))
}

/// Match a name against a glob (`*`, `?`, `[abc]`, `[a-z]`, `[!x]` or `[^x]`), byte by byte.
///
/// No escapes (`\` is an ordinary byte) and no special case for a leading `.`: the caller hides
/// dot files unless `-a`. A `[` without a closing `]` is literal. Work is capped at
/// [`GLOB_STEP_BUDGET`] steps; a pattern that needs more is treated as not matching, so no
/// pattern can pin a CPU (vsftpd and BusyBox had such reports for recursive matchers).
pub fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    glob_match_budget(pattern, name, GLOB_STEP_BUDGET) == Some(true)
}

/// [`glob_match`] with an explicit budget; `None` when the budget ran out.
///
/// Iterative with a single backtrack point (the last `*`): a later `*` can absorb anything an
/// earlier one could, so the work is at most about `pattern.len() * name.len()` steps.
pub(crate) fn glob_match_budget(pattern: &[u8], name: &[u8], mut budget: u32) -> Option<bool> {
    let (mut p, mut n) = (0usize, 0usize);
    // Pattern index just after the last `*`, and the name index that `*` currently ends at.
    let mut star: Option<(usize, usize)> = None;
    loop {
        budget = budget.checked_sub(1)?;
        let advanced = match pattern.get(p) {
            Some(b'*') => {
                p += 1;
                star = Some((p, n));
                continue;
            }
            None => {
                if n == name.len() {
                    return Some(true);
                }
                false
            }
            Some(_) if n >= name.len() => false,
            Some(b'?') => {
                p += 1;
                true
            }
            Some(b'[') => {
                let (class, scanned) = class_match(&pattern[p..], name[n]);
                // Charge the bytes scanned, so long or unterminated classes cost what they take.
                budget = budget.checked_sub(u32::try_from(scanned).unwrap_or(u32::MAX))?;
                match class {
                    Some(true) => {
                        p += scanned;
                        true
                    }
                    Some(false) => false,
                    // No closing `]`: the `[` is an ordinary byte.
                    None if name[n] == b'[' => {
                        p += 1;
                        true
                    }
                    None => false,
                }
            }
            Some(&c) => {
                let hit = name[n] == c;
                if hit {
                    p += 1;
                }
                hit
            }
        };
        if advanced {
            n += 1;
            continue;
        }
        // Mismatch: let the last `*` swallow one more byte and retry, or fail.
        match star {
            Some((sp, sn)) if sn < name.len() => {
                star = Some((sp, sn + 1));
                p = sp;
                n = sn + 1;
            }
            _ => return Some(false),
        }
    }
}

/// Match one byte against the class at the start of `pat` (`[...]`).
///
/// Returns whether it matched (`None` if there is no closing `]`) and the bytes scanned, which
/// is the class length when it is terminated.
fn class_match(pat: &[u8], b: u8) -> (Option<bool>, usize) {
    let mut i = 1;
    let negated = matches!(pat.get(i), Some(b'!' | b'^'));
    if negated {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let Some(&c) = pat.get(i) else {
            return (None, pat.len());
        };
        // A `]` right after `[` or `[!` is a member, not the end (POSIX).
        if c == b']' && !first {
            return (Some(hit != negated), i + 1);
        }
        first = false;
        match (pat.get(i + 1), pat.get(i + 2)) {
            (Some(b'-'), Some(&hi)) if hi != b']' => {
                if c <= b && b <= hi {
                    hit = true;
                }
                i += 3;
            }
            _ => {
                if c == b {
                    hit = true;
                }
                i += 1;
            }
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_detection() {
        assert!(has_glob(b"*.txt"));
        assert!(has_glob(b"a?c"));
        assert!(has_glob(b"[ab]"));
        assert!(!has_glob(b"plain name.txt"));
        assert!(!has_glob(b"a]b\\c"));
    }

    #[test]
    fn glob_table() {
        let cases: &[(&[u8], &[u8], bool)] = &[
            (b"*", b"", true),
            (b"*", b"anything", true),
            (b"", b"", true),
            (b"", b"a", false),
            (b"a", b"", false),
            (b"*.txt", b"notes.txt", true),
            (b"*.txt", b"notes.txt.bak", false),
            (b"*.txt", b".txt", true),
            (b"a*b*c", b"abc", true),
            (b"a*b*c", b"axxbyyc", true),
            (b"a*b*c", b"axxbyy", false),
            (b"a**b", b"ab", true),
            (b"*a", b"baaa", true),
            (b"*ab", b"aab", true),
            (b"?", b"x", true),
            (b"?", b"", false),
            (b"??", b"x", false),
            (b"a?c", b"abc", true),
            (b"a?c", b"a\xffc", true),
            (b"[abc]", b"b", true),
            (b"[abc]", b"d", false),
            (b"[a-z]x", b"qx", true),
            (b"[a-z]x", b"Qx", false),
            (b"[!a-z]", b"Q", true),
            (b"[!a-z]", b"q", false),
            (b"[^0-9]", b"q", true),
            (b"[]]", b"]", true),
            (b"[!]]", b"]", false),
            (b"[!]]", b"a", true),
            (b"[a-]", b"-", true),
            (b"[a-]", b"a", true),
            (b"[-a]", b"-", true),
            (b"[\x80-\xff]", b"\xe9", true),
            (b"[\x80-\xff]", b"e", false),
            (b"[ab", b"[ab", true),
            (b"[ab", b"a", false),
            (b"x[", b"x[", true),
            (b"*[0-9].log", b"app7.log", true),
            (b"*[0-9].log", b"app.log", false),
            (b"\\*", b"\\abc", true),
            (b"caf\xe9*", b"caf\xe9 au lait", true),
            (b"*A*", b"abc", false),
        ];
        for &(pattern, name, want) in cases {
            assert_eq!(
                glob_match(pattern, name),
                want,
                "{:?} vs {:?}",
                String::from_utf8_lossy(pattern),
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn glob_many_stars_is_cheap() {
        // Exponential for naive recursive matchers; linear-ish here.
        let mut pattern = b"*a".repeat(60);
        pattern.push(b'b');
        let name = vec![b'a'; 255];
        assert_eq!(glob_match_budget(&pattern, &name, 10_000), Some(false));
        let mut name_b = name.clone();
        name_b.push(b'b');
        assert_eq!(glob_match_budget(&pattern, &name_b, 10_000), Some(true));
    }

    #[test]
    fn glob_budget_caps_work() {
        // Quadratic case: every start position scans the whole run of `a`s.
        let mut pattern = vec![b'*'];
        pattern.extend_from_slice(&[b'a'; 200]);
        pattern.push(b'b');
        let name = vec![b'a'; 5000];
        assert_eq!(glob_match_budget(&pattern, &name, GLOB_STEP_BUDGET), None);
        assert!(!glob_match(&pattern, &name));
        // Large classes are charged for their length too.
        let mut pattern = Vec::new();
        for _ in 0..50 {
            pattern.push(b'*');
            pattern.push(b'[');
            pattern.extend_from_slice(&[b'x'; 1000]);
            pattern.push(b']');
        }
        pattern.push(b'y');
        assert!(!glob_match(&pattern, &vec![b'x'; 255]));
        assert_eq!(
            glob_match_budget(&pattern, &vec![b'x'; 255], GLOB_STEP_BUDGET),
            None
        );
        // So are unterminated ones, rescanned at every position.
        let mut pattern = b"*[".to_vec();
        pattern.extend_from_slice(&[b'x'; 4000]);
        assert_eq!(
            glob_match_budget(&pattern, &vec![b'x'; 255], GLOB_STEP_BUDGET),
            None
        );
        assert!(glob_match(b"*[xx", b"ab[xx"));
    }
}
