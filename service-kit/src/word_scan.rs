//! Bytes checked eight at a time: the classic word tests ("has a byte equal to b", "has a
//! byte below n" for n ≤ 128, "has a byte above n" for n ≤ 127; the answers are exact),
//! for the hot loops that look for the first byte of a class (the log line's escaping, the
//! request framer's header scan).

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// How many leading bytes of `bytes`, in whole words of eight, hold no byte `stops` flags
/// in their word (the rest is left to the caller's byte loop).
pub fn clear_words(bytes: &[u8], stops: impl Fn(u64) -> bool) -> usize {
    let mut at = 0;
    for word in bytes.chunks_exact(8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        if stops(u64::from_ne_bytes(w)) {
            break;
        }
        at += 8;
    }
    at
}

/// Whether a byte of `word` equals `b`.
pub fn has_byte(word: u64, b: u8) -> bool {
    let v = word ^ (ONES * u64::from(b));
    v.wrapping_sub(ONES) & !v & HIGHS != 0
}

/// Whether a byte of `word` is below `n` (n ≤ 128).
pub fn has_byte_below(word: u64, n: u8) -> bool {
    word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS != 0
}

/// Whether a byte of `word` is above `n` (n ≤ 127).
pub fn has_byte_above(word: u64, n: u8) -> bool {
    (word.wrapping_add(ONES * u64::from(127 - n)) | word) & HIGHS != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_tests_agree_with_the_bytes() {
        let mut rng = fastrand::Rng::with_seed(8);
        for _ in 0..100_000 {
            let bytes: [u8; 8] = std::array::from_fn(|_| rng.u8(..));
            let word = u64::from_ne_bytes(bytes);
            let (b, n) = (rng.u8(..), rng.u8(..=127));
            assert_eq!(has_byte(word, b), bytes.contains(&b), "{bytes:?} {b}");
            assert_eq!(
                has_byte_below(word, n),
                bytes.iter().any(|&x| x < n),
                "{bytes:?} < {n}"
            );
            assert_eq!(
                has_byte_above(word, n),
                bytes.iter().any(|&x| x > n),
                "{bytes:?} > {n}"
            );
        }
        let text = b"0123456789abcdef\"tail";
        assert_eq!(clear_words(text, |w| has_byte(w, b'"')), 16);
        assert_eq!(clear_words(&text[..7], |_| false), 0);
    }
}
