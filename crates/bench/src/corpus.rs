//! Chat-like message texts from a fixed vocabulary, the same on every run: the corpus `search`
//! seeds and `store --text chat` sends.

/// Words of the texts: a few common ones, many ordinary ones, and rare ones.
const COMMON: &[&str] = &["the", "and", "to", "we", "meeting", "today", "project", "deadline"];
const ORDINARY: &[&str] = &[
    "review", "budget", "launch", "client", "design", "report", "update", "call", "lunch", "coffee", "café",
    "Zoë", "team", "sprint", "ticket", "deploy", "server", "release", "notes", "plan", "friday", "monday",
    "draft", "slides", "numbers", "invoice", "travel", "hotel", "flight", "contract", "feedback", "demo",
];

/// A deterministic pseudo-random stream (xorshift), so runs produce the same corpus.
pub struct Rng(u64);

impl Rng {
    /// A stream from `seed` (zero, which xorshift never leaves, is replaced).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 { 0x9e37_79b9_7f4a_7c15 } else { seed })
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Message `i`'s text: 6–20 words, one in 20 of them a rare word (`w` and a number below
/// 50 000); one message in 10 000 carries the rarest word, `quokka`.
pub fn text(rng: &mut Rng, i: usize) -> String {
    let n = 6 + rng.below(15);
    let mut words: Vec<String> = (0..n)
        .map(|_| {
            if rng.below(3) == 0 {
                COMMON[rng.below(COMMON.len())].to_string()
            } else if rng.below(20) == 0 {
                format!("w{}", rng.below(50_000))
            } else {
                ORDINARY[rng.below(ORDINARY.len())].to_string()
            }
        })
        .collect();
    if i % 10_000 == 7 {
        words.push("quokka".into());
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_the_same_on_every_run_and_hold_6_to_21_words() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for i in 0..1000 {
            let t = text(&mut a, i);
            assert_eq!(t, text(&mut b, i));
            let n = t.split(' ').count();
            assert!((6..=21).contains(&n), "{t}");
        }
        assert!(text(&mut Rng::new(0), 7).ends_with(" quokka"));
    }
}
