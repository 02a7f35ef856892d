//! Message search: the user's query made safe for the engines, the order results come in, the
//! cursor that pages through them and the snippet each result carries.
//!
//! # Query
//! Words are alphanumeric runs (as SQLite's `unicode61` tokenizer cuts them); every other character
//! separates words. `word*` is a prefix, `"several words"` a phrase (`"a b"*`: the last word a
//! prefix). Every result contains every term. Nothing else is syntax: `(`, `)`, `:`, `-`, `^`,
//! `NEAR`, `AND`, `OR`, `NOT` and a quote without its closing quote are text, so a query never
//! reaches an engine as anything but quoted words.
//!
//! # Candidates, windows and order
//! The engine (FTS5 in SQLite, a GIN-indexed `tsvector` in PostgreSQL, or a walk through the
//! caller's newest messages with [`WordsMatcher`]) finds *candidates*: the messages of the
//! caller's conversations holding every word, newest first. Ranking happens here,
//! over one *window* of candidates at a time: the [`WINDOW`] newest, then the next [`WINDOW`]
//! older ones, and so on. So the cost of a search follows the page asked for, not the number of
//! matches in the database (a common word in a million messages costs the same as in a thousand),
//! and relevance is blended with recency: the best of the newest matches come first.
//!
//! Within a window, a candidate must contain every phrase as a phrase (the engines are only asked
//! for the words) and every word longer than an index holds, then results come best first, in
//! relevance tiers ([`score`]: BM25's term frequency and length normalisation, cut into coarse
//! steps so that near-equal scores are equal), newer first within a tier, then by conversation
//! and sequence number (both descending) so that the order is total.
//!
//! # Cursor
//! The cursor is the [`SearchKey`] of the last result given (keyset paging): its window (the
//! position of that window's newest candidate, fixed by the first page) and its place in it. A
//! later page starts strictly after it, so messages appended between pages (newer than the first
//! page's window) never push a result onto a second page or off the next one. A message edited
//! between pages can be seen twice or missed once.
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::{Error, Result};

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 256;
/// Most terms a query may have (more are `INVALID_REQUEST`): each is one more index lookup.
pub const MAX_TERMS: usize = 16;
pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;
/// Candidates ranked together (see the module docs).
pub const WINDOW: usize = 1000;
/// BM25's term-frequency saturation and length normalisation.
const BM25_K1: f64 = 1.2;
const BM25_B: f64 = 0.75;
/// Relevance tiers per unit of [`score`].
const TIER_STEPS: f64 = 2.0;
/// Characters of text a snippet shows around its first hit (more text is cut with `…`).
pub const SNIPPET_CHARS: usize = 160;
/// Of which before the first hit, at most.
const SNIPPET_LEAD_CHARS: usize = 40;

/// One term of a query: a word (one entry) or a phrase (several), the last word a prefix when
/// `prefix`. Words keep the user's spelling: SQLite's tokenizer folds them for FTS5, [`fold`] for
/// PostgreSQL and for ranking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub words: Vec<String>,
    pub prefix: bool,
}

/// A parsed query: every term must match. No terms (a query of punctuation only) matches nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub terms: Vec<Term>,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Alphanumeric runs of `text` with their byte ranges.
fn words(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (is_word_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

/// A word as search compares it: accents removed (canonical decomposition without its marks),
/// lower case.
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    fold_into(word, &mut out);
    out
}

/// [`fold`], appended to `out`.
fn fold_into(word: &str, out: &mut String) {
    // Most words are ASCII, where decomposing changes nothing: skip it (a message's document
    // folds every word on the send path).
    if word.is_ascii() {
        out.extend(word.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        out.extend(word.nfd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase));
    }
}

/// Parses the user's query. Empty or whitespace-only, longer than [`MAX_QUERY_CHARS`] or with
/// more than [`MAX_TERMS`] terms is `InvalidRequest`; anything else parses.
pub fn parse(q: &str) -> Result<SearchQuery> {
    let q = q.trim();
    if q.is_empty() {
        return Err(Error::InvalidRequest("`q` must not be empty".into()));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::InvalidRequest(format!("`q` is longer than {MAX_QUERY_CHARS} characters")));
    }
    let mut terms = Vec::new();
    let mut rest = q;
    while !rest.is_empty() {
        // A phrase: a quote with a closing quote after it.
        if let Some(inner) = rest.strip_prefix('"') {
            if let Some(end) = inner.find('"') {
                let phrase: Vec<String> =
                    words(&inner[..end]).into_iter().map(|(s, e)| inner[s..e].to_string()).collect();
                let after = &inner[end + 1..];
                let prefix = after.starts_with('*');
                if !phrase.is_empty() {
                    terms.push(Term { words: phrase, prefix });
                }
                rest = if prefix { &after[1..] } else { after };
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        if is_word_char(c) {
            let end = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
            let prefix = rest[end..].starts_with('*');
            terms.push(Term { words: vec![rest[..end].to_string()], prefix });
            rest = &rest[end + usize::from(prefix)..];
        } else {
            rest = &rest[c.len_utf8()..];
        }
    }
    if terms.len() > MAX_TERMS {
        return Err(Error::InvalidRequest(format!("`q` has more than {MAX_TERMS} terms")));
    }
    Ok(SearchQuery { terms })
}

impl SearchQuery {
    /// The words every candidate must hold, in FTS5 syntax: each word quoted, phrases taken
    /// apart (a phrase is checked by [`score`]: FTS5 matching it costs position lists of every
    /// message holding its words), a prefix stays a prefix. `None` when there is nothing to
    /// search for.
    pub fn fts5_words(&self) -> Option<String> {
        if self.terms.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        for t in &self.terms {
            let last = t.words.len() - 1;
            for (i, w) in t.words.iter().enumerate() {
                let quoted = format!("\"{}\"", w.replace('"', "\"\""));
                out.push(if i == last && t.prefix { format!("{quoted} *") } else { quoted });
            }
        }
        Some(out.join(" "))
    }

    /// The query for PostgreSQL, in `tsquery` input syntax, folded as [`tsvector`] folds a
    /// message (see there for what a document holds). A word is found alone or heading a pair:
    /// `('word' | '~word ':*)`, a prefix `('wor':* | '~wor':*)`. A phrase is looked up by its
    /// pairs (`'~project deadline'`, `"project dead"*` as `'~project dead':*`), as cheaply as a
    /// rare word instead of by intersecting the posting lists of its words. These only find
    /// candidates, as on SQLite: [`rank`] checks each text for the phrases. `None` when nothing
    /// is left to search for.
    pub fn tsquery(&self) -> Option<String> {
        let mut parts = Vec::new();
        for t in &self.terms {
            let folded: Vec<String> = t.words.iter().map(|w| fold(w)).collect();
            let last = folded.len() - 1;
            if last == 0 {
                parts.extend(word_condition(&folded[0], t.prefix));
                continue;
            }
            for i in 0..last {
                let tail_is_prefix = t.prefix && i + 1 == last;
                match pair(&folded[i], &folded[i + 1]) {
                    Some(p) => {
                        parts.push(format!("{}{}", lexeme(&p), if tail_is_prefix { ":*" } else { "" }))
                    }
                    None => {
                        parts.extend(word_condition(&folded[i], false));
                        parts.extend(word_condition(&folded[i + 1], tail_is_prefix));
                    }
                }
            }
        }
        parts.dedup();
        (!parts.is_empty()).then(|| parts.join(" & "))
    }
}

/// Characters of a word the index holds: a longer word (a pasted token, a long link) is held by
/// its first ones, so no lexeme comes near PostgreSQL's limit of 2 046 bytes, and candidates are
/// checked on their texts. A word this long or shorter is held whole and heads pairs; a longer
/// one stands alone, as a pair's lexeme would have to hold its head whole for `'~word ':*`.
const MAX_INDEXED_CHARS: usize = 100;

/// What the index holds of a folded word: its first [`MAX_INDEXED_CHARS`] characters.
fn indexed(word: &str) -> &str {
    if word.len() <= MAX_INDEXED_CHARS {
        return word;
    }
    word.char_indices().nth(MAX_INDEXED_CHARS).map_or(word, |(end, _)| &word[..end])
}

/// Whether a folded word heads a pair wherever another word follows it.
fn heads_pairs(word: &str) -> bool {
    !word.is_empty() && indexed(word).len() == word.len()
}

/// The lexeme for the (folded) word `a` followed by `b`, `~` first (no word starts with it, so
/// `'word':*` never matches a pair) and `b` as the index holds it ([`indexed`]). `None` when
/// `a` does not head pairs or `b` is empty.
fn pair(a: &str, b: &str) -> Option<String> {
    if !heads_pairs(a) || b.is_empty() {
        return None;
    }
    let tail = indexed(b);
    let mut lexeme = String::with_capacity(a.len() + tail.len() + 2);
    lexeme.push('~');
    lexeme.push_str(a);
    lexeme.push(' ');
    lexeme.push_str(tail);
    Some(lexeme)
}

/// The condition for one folded word (a prefix when `prefix`) anywhere in a document: alone (as
/// the index holds it) or heading a pair. `None` for an empty word.
fn word_condition(word: &str, prefix: bool) -> Option<String> {
    if word.is_empty() {
        return None;
    }
    let star = if prefix { ":*" } else { "" };
    let alone = format!("{}{star}", lexeme(indexed(word)));
    if !heads_pairs(word) {
        // Only a word as long as the index holds or longer starts with it, and such a word
        // stands alone.
        return Some(alone);
    }
    // A whole word heads `~word ` and nothing longer; a prefix heads `~wor…`.
    let heading = lexeme(&format!("~{word}{}", if prefix { "" } else { " " }));
    Some(format!("({alone} | {heading}:*)"))
}

/// A lexeme quoted for `tsvector`/`tsquery` input.
fn lexeme(word: &str) -> String {
    format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"))
}

/// A message's text as PostgreSQL indexes it: the lexemes of its `tsvector`. Each word as
/// search cuts and folds it ([`fold`]) is held together with the word after it, as one pair
/// lexeme (`~a b`), so phrases are looked up by their pairs ([`SearchQuery::tsquery`]) and a
/// word is found as the head of its pairs. The last word, and a word too long to head a pair,
/// stand alone. One lexeme per word, not a word and a pair each: the GIN index's entries are
/// most of what indexing costs a send. No positions: phrases are checked on the texts. Built
/// here rather than by the database, so that a message and a query are folded by the same code
/// and the database does no text work on the send path; built without an allocation per word,
/// as it is built for every message sent.
#[derive(Debug, Clone)]
pub struct SearchDocument {
    /// The folded words, each followed by one space: a pair is the bytes from its head to (a
    /// prefix of) the next word.
    words: String,
    /// Byte ranges of `words`, each a lexeme, `~` before it when a pair; sorted as PostgreSQL
    /// sorts lexemes (bytewise), each once.
    lexemes: Vec<(u32, u32, bool)>,
}

impl SearchDocument {
    pub fn new(text: &str) -> SearchDocument {
        let mut words = String::with_capacity(text.len() + 8);
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for (s, e) in self::words(text) {
            let start = words.len();
            fold_into(&text[s..e], &mut words);
            spans.push((start, words.len()));
            words.push(' ');
        }
        let mut lexemes = Vec::with_capacity(spans.len());
        for (i, &(s, e)) in spans.iter().enumerate() {
            let word = &words[s..e];
            match spans.get(i + 1) {
                Some(&(ns, ne)) if heads_pairs(word) && ne > ns => {
                    lexemes.push((s, ns + indexed(&words[ns..ne]).len(), true))
                }
                _ if e > s => lexemes.push((s, s + indexed(word).len(), false)),
                _ => {}
            }
        }
        // Ranges of a text that fits in memory; a document past 4 GiB is not one to index.
        let mut lexemes: Vec<(u32, u32, bool)> = lexemes
            .into_iter()
            .filter_map(|(s, e, pair)| Some((u32::try_from(s).ok()?, u32::try_from(e).ok()?, pair)))
            .collect();
        let bytes = |&(s, e, _): &(u32, u32, bool)| &words.as_bytes()[s as usize..e as usize];
        // A pair's `~` against a word's first byte decides (no word starts with `~`, and every
        // lexeme has a first byte).
        let order = |a: &(u32, u32, bool), b: &(u32, u32, bool)| match (a.2, b.2) {
            (true, false) => Some(&b'~').cmp(&bytes(b).first()),
            (false, true) => bytes(a).first().cmp(&Some(&b'~')),
            _ => bytes(a).cmp(bytes(b)),
        };
        lexemes.sort_unstable_by(order);
        lexemes.dedup_by(|a, b| order(a, b).is_eq());
        SearchDocument { words, lexemes }
    }

    /// The lexemes in order: whether each is a pair (`~` before it), and its text after the `~`.
    pub fn lexemes(&self) -> impl ExactSizeIterator<Item = (bool, &str)> + '_ {
        self.lexemes.iter().map(|&(s, e, pair)| (pair, &self.words[s as usize..e as usize]))
    }
}

/// A message's [`SearchDocument`] in `tsvector` input syntax, as PostgreSQL prints it.
pub fn tsvector(text: &str) -> String {
    SearchDocument::new(text)
        .lexemes()
        .map(|(pair, l)| lexeme(&if pair { format!("~{l}") } else { l.to_string() }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where a result stands in the order (see the module docs): greater is earlier.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SearchKey {
    /// The window: the engine's position of its newest candidate.
    pub window: i64,
    pub tier: i64,
    pub created_at: i64,
    pub conversation_id: String,
    pub sequence_number: u64,
}

const CURSOR_VERSION: &str = "s2";

/// The opaque cursor for the results after `key`.
pub fn encode_cursor(key: &SearchKey) -> String {
    let plain = format!(
        "{CURSOR_VERSION}:{}:{}:{}:{}:{}",
        key.window, key.tier, key.created_at, key.sequence_number, key.conversation_id
    );
    plain.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The key a cursor from [`encode_cursor`] holds; anything else is `InvalidRequest`.
pub fn decode_cursor(cursor: &str) -> Result<SearchKey> {
    let bad = || Error::InvalidRequest("`cursor` is not a search cursor".into());
    if !cursor.len().is_multiple_of(2) || cursor.len() > 1024 {
        return Err(bad());
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| cursor.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)?;
    let plain = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = plain.splitn(6, ':');
    if parts.next() != Some(CURSOR_VERSION) {
        return Err(bad());
    }
    let window = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let tier = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let created_at = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let sequence_number = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let conversation_id = parts.next().filter(|c| !c.is_empty()).ok_or_else(bad)?.to_string();
    Ok(SearchKey { window, tier, created_at, conversation_id, sequence_number })
}

/// A message the engine found holding every word of the query.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The engine's order of candidates, newest greatest (SQLite: the document id; PostgreSQL:
    /// `createdAt`).
    pub position: i64,
    pub created_at: i64,
    pub conversation_id: String,
    pub sequence_number: u64,
    pub text: String,
}

/// One window of candidates (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// The window's key: the position it was asked for, or its newest candidate's.
    pub top: i64,
    pub candidates: Vec<Candidate>,
    /// The top of the next, older window; `None` when no older candidate exists.
    pub older: Option<i64>,
}

/// A search's time limit (`SearchRequest::time_limit`), checked by the stores before each
/// statement of a search: past it the search ends with [`Error::SearchTooBroad`].
#[derive(Debug, Clone, Copy)]
pub struct Deadline(Option<(std::time::Instant, std::time::Duration)>);

impl Deadline {
    /// Starts counting now; `None`: no limit.
    pub fn start(limit: Option<std::time::Duration>) -> Deadline {
        Deadline(limit.map(|limit| (std::time::Instant::now(), limit)))
    }

    /// What is left of the limit (`None`: no limit), or the error once it is spent.
    pub fn left(&self) -> Result<Option<std::time::Duration>> {
        let Some((started, limit)) = self.0 else { return Ok(None) };
        let left = limit.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(self.exceeded().unwrap_or(Error::SearchTooBroad { limit_ms: 0 }));
        }
        Ok(Some(left))
    }

    /// The error of a search stopped by this limit (`None`: it has none).
    pub fn exceeded(&self) -> Option<Error> {
        self.0.map(|(_, limit)| too_broad(limit))
    }
}

/// The error of a search stopped by its time limit `limit`.
pub fn too_broad(limit: std::time::Duration) -> Error {
    Error::SearchTooBroad { limit_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX) }
}

/// One search's way through the windows: asks for windows until the page is full or the
/// candidates run out. The adapter fetches what [`Pager::wants`] names and feeds it back:
///
/// ```ignore
/// let mut pager = Pager::new(&query, after, limit);
/// while let Some(top) = pager.wants() {
///     pager.feed(window(top)?);
/// }
/// let keys = pager.finish();
/// ```
#[derive(Debug)]
pub struct Pager<'q> {
    query: &'q SearchQuery,
    after: Option<SearchKey>,
    next: Option<Option<i64>>,
    limit: usize,
    out: Vec<SearchKey>,
}

impl<'q> Pager<'q> {
    /// The page of at most `limit` results after `after` (the first page when `None`).
    pub fn new(query: &'q SearchQuery, after: Option<&SearchKey>, limit: usize) -> Self {
        let next = (limit > 0).then(|| after.map(|k| k.window));
        Pager { query, after: after.cloned(), next, limit, out: Vec::new() }
    }

    /// The window to fetch next: the newest [`WINDOW`] candidates at position `top` or below
    /// (`None`: the newest of all), newest first, a few more when positions tie at its oldest
    /// end, so that windows never overlap and never leave a gap. `None` when the page is done.
    pub fn wants(&self) -> Option<Option<i64>> {
        self.next
    }

    /// Takes the window asked for.
    pub fn feed(&mut self, window: Window) {
        let ranked = rank(self.query, &window);
        let start = self.after.as_ref().map_or(0, |k| ranked.partition_point(|r| r >= k));
        self.out.extend(ranked.into_iter().skip(start).take(self.limit - self.out.len()));
        self.after = None;
        self.next = if self.out.len() < self.limit { window.older.map(Some) } else { None };
    }

    /// The keys of the page, in order.
    pub fn finish(self) -> Vec<SearchKey> {
        self.out
    }
}

/// The window's results in order (greatest key first): candidates that hold every phrase, with
/// their tiers.
pub fn rank(query: &SearchQuery, window: &Window) -> Vec<SearchKey> {
    let counted: Vec<(&Candidate, TermCounts)> =
        window.candidates.iter().filter_map(|c| term_counts(query, &c.text).map(|t| (c, t))).collect();
    let average = if counted.is_empty() {
        1.0
    } else {
        counted.iter().map(|(_, t)| t.words as f64).sum::<f64>() / counted.len() as f64
    };
    let mut keys: Vec<SearchKey> = counted
        .into_iter()
        .map(|(c, t)| SearchKey {
            window: window.top,
            tier: tier(score(&t, average), TIER_STEPS),
            created_at: c.created_at,
            conversation_id: c.conversation_id.clone(),
            sequence_number: c.sequence_number,
        })
        .collect();
    keys.sort_unstable_by(|a, b| b.cmp(a));
    keys
}

/// How often each term of a query occurs in a text, and the text's length in words.
#[derive(Debug, Clone, PartialEq)]
pub struct TermCounts {
    pub per_term: Vec<u32>,
    pub words: usize,
}

/// Whether a text holds every word of a query, as an engine asked [`SearchQuery::fts5_words`]
/// finds it: each word somewhere in the text (the last word of a prefix term as the start of a
/// word), phrases taken apart ([`rank`] checks them). For a store that finds candidates by
/// reading texts rather than through its index, so built once per search and cheap per text.
#[derive(Debug, Clone)]
pub struct WordsMatcher {
    /// Every word of every term, folded, and whether it is a prefix.
    words: Vec<(String, bool)>,
}

impl WordsMatcher {
    pub fn new(query: &SearchQuery) -> Self {
        let mut words: Vec<(String, bool)> = Vec::new();
        for t in &query.terms {
            let last = t.words.len() - 1;
            words.extend(t.words.iter().enumerate().map(|(i, w)| (fold(w), i == last && t.prefix)));
        }
        words.sort();
        words.dedup();
        WordsMatcher { words }
    }

    pub fn matches(&self, text: &str) -> bool {
        let mut found = vec![false; self.words.len()];
        let mut missing = self.words.len();
        let mut folded = String::new();
        for (s, e) in words(text) {
            folded.clear();
            let word = &text[s..e];
            if word.is_ascii() {
                folded.extend(word.bytes().map(|b| char::from(b.to_ascii_lowercase())));
            } else {
                folded.push_str(&fold(word));
            }
            for ((w, prefix), found) in self.words.iter().zip(found.iter_mut()) {
                if !*found && if *prefix { folded.starts_with(w.as_str()) } else { folded == *w } {
                    *found = true;
                    missing -= 1;
                }
            }
            if missing == 0 {
                return true;
            }
        }
        missing == 0
    }
}

/// The counts of `query`'s terms in `text`; `None` when a phrase is not in it. A single word is
/// counted at least once: the engine found it, and its tokenizer has the last word on what a
/// word is; but not a word longer than the index holds ([`MAX_INDEXED_CHARS`]), of which
/// PostgreSQL found only the start.
pub fn term_counts(query: &SearchQuery, text: &str) -> Option<TermCounts> {
    let spans = words(text);
    let folded: Vec<String> = spans.iter().map(|&(s, e)| fold(&text[s..e])).collect();
    let mut per_term = Vec::with_capacity(query.terms.len());
    for term in &query.terms {
        let words: Vec<String> = term.words.iter().map(|w| fold(w)).collect();
        let n = (0..folded.len()).filter(|&i| term_at(&folded, i, &words, term.prefix)).count() as u32;
        let checked = words.len() > 1 || words.first().is_some_and(|w| indexed(w).len() < w.len());
        if n == 0 && checked {
            return None;
        }
        per_term.push(n.max(1));
    }
    Some(TermCounts { per_term, words: folded.len() })
}

/// Whether the (folded) words of a term start at word `i` of a (folded) text.
fn term_at(text: &[String], i: usize, words: &[String], prefix: bool) -> bool {
    let n = words.len();
    i + n <= text.len()
        && words.iter().enumerate().all(|(k, w)| {
            let doc = &text[i + k];
            if k == n - 1 && prefix {
                doc.starts_with(w.as_str())
            } else {
                doc == w
            }
        })
}

/// A candidate's relevance: BM25 without its inverse document frequency (every candidate holds
/// every term, so it would weigh all of them alike), over a window whose texts average
/// `average_words` words.
pub fn score(counts: &TermCounts, average_words: f64) -> f64 {
    let length = 1.0 - BM25_B + BM25_B * counts.words as f64 / average_words.max(1.0);
    counts
        .per_term
        .iter()
        .map(|&tf| {
            let tf = f64::from(tf);
            tf * (BM25_K1 + 1.0) / (tf + BM25_K1 * length)
        })
        .sum()
}

/// `limit` checked: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
pub fn limit(limit: Option<u32>) -> Result<u32> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n @ 1..=MAX_LIMIT) => Ok(n),
        Some(_) => Err(Error::InvalidRequest(format!("`limit` must be 1 to {MAX_LIMIT}"))),
    }
}

/// A relevance score cut into its tier: `steps` tiers per unit of score.
pub fn tier(score: f64, steps: f64) -> i64 {
    if score.is_finite() {
        (score * steps).floor() as i64
    } else {
        0
    }
}

/// Byte ranges of `text` that the query's terms match, in order and not overlapping.
pub fn hits(query: &SearchQuery, text: &str) -> Vec<(usize, usize)> {
    let spans = words(text);
    let folded: Vec<String> = spans.iter().map(|&(s, e)| fold(&text[s..e])).collect();
    let terms: Vec<(Vec<String>, bool)> =
        query.terms.iter().map(|t| (t.words.iter().map(|w| fold(w)).collect(), t.prefix)).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < spans.len() {
        let matched =
            terms.iter().filter(|(words, prefix)| term_at(&folded, i, words, *prefix)).map(|(w, _)| w.len());
        match matched.max() {
            Some(n) => {
                out.push((spans[i].0, spans[i + n - 1].1));
                i += n;
            }
            None => i += 1,
        }
    }
    out
}

/// `text` with `<`, `>`, `&`, `"` and `'` as HTML entities.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The snippet of `text` for `query`: up to [`SNIPPET_CHARS`] characters around the first hit
/// (`…` where text is cut), HTML-escaped, each hit in `<mark>…</mark>`.
pub fn snippet(query: &SearchQuery, text: &str) -> String {
    let hits = hits(query, text);
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let char_at = |byte: usize| chars.partition_point(|&(b, _)| b < byte);
    let first = hits.first().map_or(0, |&(s, _)| char_at(s));
    let mut from = first.saturating_sub(SNIPPET_LEAD_CHARS);
    let to = (from + SNIPPET_CHARS).min(chars.len());
    from = to.saturating_sub(SNIPPET_CHARS).min(from);
    // Cut between words where possible.
    let mut from_b = chars.get(from).map_or(text.len(), |&(b, _)| b);
    let mut to_b = chars.get(to).map_or(text.len(), |&(b, _)| b);
    if from > 0 {
        if let Some(space) = text[from_b..].find(char::is_whitespace) {
            let cut = from_b + space;
            if hits.first().is_none_or(|&(s, _)| cut < s) {
                from_b = cut;
            }
        }
    }
    if to < chars.len() {
        if let Some(space) = text[..to_b].rfind(char::is_whitespace) {
            if space > from_b && hits.first().is_none_or(|&(_, e)| space >= e) {
                to_b = space;
            }
        }
    }
    let mut out = String::new();
    if from_b > 0 {
        out.push('…');
    }
    let mut at = from_b;
    for &(s, e) in &hits {
        if e <= from_b || s >= to_b {
            continue;
        }
        let (s, e) = (s.max(from_b), e.min(to_b));
        out.push_str(&escape_html(&text[at..s]));
        out.push_str("<mark>");
        out.push_str(&escape_html(&text[s..e]));
        out.push_str("</mark>");
        at = e;
    }
    out.push_str(&escape_html(&text[at..to_b]));
    if to_b < text.len() {
        out.push('…');
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> SearchQuery {
        parse(s).unwrap()
    }

    fn term(words: &[&str], prefix: bool) -> Term {
        Term { words: words.iter().map(|w| w.to_string()).collect(), prefix }
    }

    #[test]
    fn words_prefixes_and_phrases_parse() {
        assert_eq!(
            q(r#"hello wor* "big cat" "small do"*"#).terms,
            vec![
                term(&["hello"], false),
                term(&["wor"], true),
                term(&["big", "cat"], false),
                term(&["small", "do"], true)
            ]
        );
    }

    #[test]
    fn syntax_is_text() {
        assert_eq!(q("a OR b").terms, vec![term(&["a"], false), term(&["OR"], false), term(&["b"], false)]);
        assert_eq!(q("-x:y^(z)").terms, vec![term(&["x"], false), term(&["y"], false), term(&["z"], false)]);
        assert_eq!(q("NEAR(a b)").fts5_words().unwrap(), r#""NEAR" "a" "b""#);
        assert_eq!(q(r#""big cat"* x"#).fts5_words().unwrap(), r#""big" "cat" * "x""#);
        // An unbalanced quote is text: the words after it are plain words.
        assert_eq!(q(r#"say "hi there"#).terms.len(), 3);
        assert!(q("*** \"\" ()").terms.is_empty());
        assert_eq!(q("*** ()").fts5_words(), None);
        assert_eq!(q("it's").tsquery().unwrap(), "('it' | '~it ':*) & ('s' | '~s ':*)");
        assert_eq!(q(r#""a b"* c*"#).tsquery().unwrap(), "'~a b':* & ('c':* | '~c':*)");
    }

    #[test]
    fn postgres_looks_phrases_up_by_their_word_pairs() {
        assert_eq!(
            q(r#""Big cat" "a b c"* "y z" "solo""#).tsquery().unwrap(),
            "'~big cat' & '~a b' & '~b c':* & '~y z' & ('solo' | '~solo ':*)"
        );
        assert_eq!(q(r#""it's HÈRE""#).tsquery().unwrap(), "'~it s' & '~s here'");
        // A word too long to head a pair: its pair's words instead, the long one alone, cut
        // as the index holds it.
        let (long_a, b) = ("a".repeat(MAX_INDEXED_CHARS + 1), "b");
        assert_eq!(
            q(&format!("\"{long_a} {b}\"")).tsquery().unwrap(),
            format!("'{}' & ('b' | '~b ':*)", &long_a[..MAX_INDEXED_CHARS])
        );
        assert_eq!(
            q(&format!("{long_a}*")).tsquery().unwrap(),
            format!("'{}':*", &long_a[..MAX_INDEXED_CHARS])
        );
        // A long word after the head is cut in the pair as in the document.
        let long_b = "b".repeat(MAX_INDEXED_CHARS + 20);
        let cut = &long_b[..MAX_INDEXED_CHARS];
        assert_eq!(q(&format!("\"a {long_b}\"")).tsquery().unwrap(), format!("'~a {cut}'"));
        assert!(tsvector(&format!("a {long_b}")).contains(&format!("'~a {cut}'")));
        assert_eq!(q("*** ()").tsquery(), None);
    }

    #[test]
    fn postgres_documents_hold_each_word_with_the_next_once() {
        assert_eq!(tsvector("Café, café au LAIT!"), "'lait' '~au lait' '~cafe au' '~cafe cafe'");
        assert_eq!(tsvector("solo"), "'solo'");
        assert_eq!(tsvector(" ... "), "");
        // A word longer than PostgreSQL could keep is held by its first characters: alone, and
        // after the word before it.
        let huge = "é".repeat(2047);
        let cut = "e".repeat(MAX_INDEXED_CHARS);
        assert_eq!(tsvector(&format!("{huge} y")), format!("'{cut}' 'y'"));
        assert_eq!(tsvector(&format!("y {huge}")), format!("'{cut}' '~y {cut}'"));
        // A word too long to head a pair stands alone.
        let long = "l".repeat(MAX_INDEXED_CHARS + 1);
        assert_eq!(tsvector(&format!("{long} y")), format!("'{}' 'y'", &long[..MAX_INDEXED_CHARS]));
    }

    #[test]
    fn document_lexemes_come_in_postgres_order_each_once() {
        for text in ["élan zèbre Zoë 9 ~x café élan zèbre", "b a b a ~ a", "Ünïcode über alles 42 über alles"]
        {
            let lexemes: Vec<String> = SearchDocument::new(text)
                .lexemes()
                .map(|(pair, l)| if pair { format!("~{l}") } else { l.to_string() })
                .collect();
            assert!(lexemes.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()), "{lexemes:?}");
        }
    }

    /// Whether `query` can match `document` by its lexemes alone, as PostgreSQL's `@@` decides
    /// it for these queries: `&` of terms, each one lexeme or a parenthesised `|` of two, exact
    /// or a prefix (`:*`).
    fn may_match(document: &str, query: &str) -> bool {
        let lexemes: Vec<String> =
            document.split("' '").map(|l| l.trim_matches('\'').replace("''", "'")).collect();
        query.split(" & ").all(|term| {
            term.trim_start_matches('(').trim_end_matches(')').split(" | ").any(|alt| {
                let (text, prefix) = match alt.strip_suffix(":*") {
                    Some(t) => (t, true),
                    None => (alt, false),
                };
                let text = text.trim_matches('\'').replace("''", "'");
                lexemes.iter().any(|l| if prefix { l.starts_with(&text) } else { *l == text })
            })
        })
    }

    #[test]
    fn every_word_prefix_and_phrase_of_a_document_finds_it() {
        let text = "Le Déjà-vu du Zoë: project deadline, the project's end";
        let doc = tsvector(text);
        for query in [
            "deja",
            "Vu",
            "zoe",
            "END",
            "projec*",
            "e*",
            "\"deja VU\" zoe",
            "\"project deadline\"",
            "\"project dead\"*",
            "\"le deja vu du zoe\"",
            "\"the project\" s",
            "\"project s end\"",
        ] {
            let tsquery = q(query).tsquery().unwrap();
            assert!(may_match(&doc, &tsquery), "{query} ({tsquery}) in {doc}");
        }
        for query in ["dead", "\"deadline project\"", "zo", "\"end the\"", "\"du project\"*", "x*"] {
            let tsquery = q(query).tsquery().unwrap();
            assert!(!may_match(&doc, &tsquery), "{query} ({tsquery}) not in {doc}");
        }
    }

    #[test]
    fn empty_long_and_crowded_queries_are_refused() {
        assert!(matches!(parse("  \t"), Err(Error::InvalidRequest(_))));
        assert!(matches!(parse(&"a".repeat(MAX_QUERY_CHARS + 1)), Err(Error::InvalidRequest(_))));
        assert!(parse(&"é".repeat(MAX_QUERY_CHARS)).is_ok(), "characters are counted, not bytes");
        assert!(matches!(parse(&"a ".repeat(MAX_TERMS + 1)), Err(Error::InvalidRequest(_))));
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let key = SearchKey {
            window: 12,
            tier: -3,
            created_at: 17,
            conversation_id: "c:1".into(),
            sequence_number: 9,
        };
        assert_eq!(decode_cursor(&encode_cursor(&key)).unwrap(), key);
        for bad in ["", "zz", "abc", "7331", &"00".repeat(600)] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(Some(100)).unwrap(), 100);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(101)).is_err());
    }

    #[test]
    fn folding_ignores_case_and_accents() {
        assert_eq!(fold("Café"), "cafe");
        assert_eq!(fold("ZOË"), "zoe");
        // Letters without a decomposition stay letters of their own, as SQLite's `unicode61
        // remove_diacritics 2` keeps them, so both stores find the same words.
        for (word, folded) in
            [("Straße", "straße"), ("Øre", "øre"), ("Łódź", "łodz"), ("İstanbul", "istanbul")]
        {
            assert_eq!(fold(word), folded);
        }
    }

    fn cand(position: i64, text: &str) -> Candidate {
        Candidate {
            position,
            created_at: position * 10,
            conversation_id: "c".into(),
            sequence_number: position as u64,
            text: text.into(),
        }
    }

    /// Candidates served newest first in windows of three.
    fn fake_window(all: &[Candidate], top: Option<i64>) -> Window {
        let mut below: Vec<Candidate> =
            all.iter().filter(|c| top.is_none_or(|t| c.position <= t)).cloned().collect();
        below.sort_by_key(|c| std::cmp::Reverse(c.position));
        let more = below.len() > 3;
        below.truncate(3);
        let top = top.or(below.first().map(|c| c.position)).unwrap_or(i64::MIN);
        let older = if more { below.last().map(|c| c.position - 1) } else { None };
        Window { top, candidates: below, older }
    }

    #[test]
    fn phrases_must_be_phrases_and_words_count_at_least_once() {
        let query = q(r#""big cat" dog"#);
        assert!(term_counts(&query, "the cat is big, a dog").is_none(), "words of the phrase apart");
        let counts = term_counts(&query, "big cat, big cat and a DOG").unwrap();
        assert_eq!(counts, TermCounts { per_term: vec![2, 1], words: 7 });
        // The engine found `dog`; a text where this tokenizer does not see it still counts once.
        assert_eq!(term_counts(&q("dog"), "d-o-g").unwrap().per_term, vec![1]);
    }

    #[test]
    fn texts_hold_words_as_the_index_finds_them() {
        let text = "Le Café ouvre; the big dog barks at a cat";
        let holds = |query: &str| WordsMatcher::new(&q(query)).matches(text);
        assert!(holds("cafe DOG"));
        assert!(holds("caf* ouv*"));
        // Phrases taken apart, as the index is asked: the order is checked by ranking.
        assert!(holds(r#""cat big""#));
        assert!(!holds("cafe horse"));
        assert!(!holds("ca"), "a word is whole unless it is a prefix");
        assert!(!holds("xyz*"));
        assert!(holds("dog dog DOG"), "a word asked twice is one word");
    }

    #[test]
    fn dense_short_texts_score_above_long_ones() {
        let query = q("budget");
        let short = term_counts(&query, "budget budget").unwrap();
        let long = term_counts(&query, &format!("budget {}", "filler ".repeat(40))).unwrap();
        let average = (short.words + long.words) as f64 / 2.0;
        assert!(score(&short, average) > score(&long, average));
        // Term frequency saturates: ten times the word is not ten times the score.
        let ten = term_counts(&query, &"budget ".repeat(10)).unwrap();
        assert!(score(&ten, 10.0) < 2.0 * score(&short, 2.0));
    }

    #[test]
    fn a_window_ranks_best_first_then_newest() {
        let window = Window {
            top: 9,
            candidates: vec![
                cand(9, "x y z w v u budget"),
                cand(8, "budget budget"),
                cand(7, "x y z w v u budget"),
            ],
            older: None,
        };
        let keys = rank(&q("budget"), &window);
        let order: Vec<u64> = keys.iter().map(|k| k.sequence_number).collect();
        assert_eq!(order, [8, 9, 7]);
        assert!(keys.iter().all(|k| k.window == 9));
    }

    #[test]
    fn pages_walk_every_window_once() {
        let texts = ["a b", "a", "a a", "b a", "a c", "c a", "a d a", "a"];
        let all: Vec<Candidate> = texts.iter().enumerate().map(|(i, t)| cand(i as i64 + 1, t)).collect();
        let query = q("a");
        let mut seen = Vec::new();
        let mut after: Option<SearchKey> = None;
        loop {
            let mut pager = Pager::new(&query, after.as_ref(), 2);
            while let Some(top) = pager.wants() {
                pager.feed(fake_window(&all, top));
            }
            let keys = pager.finish();
            if let (Some(prev), Some(first)) = (&after, keys.first()) {
                assert!(prev > first, "a page starts after its cursor: {prev:?} {keys:?}");
            }
            seen.extend(keys.iter().map(|k| k.sequence_number));
            match keys.last() {
                Some(last) if keys.len() == 2 => after = Some(decode_cursor(&encode_cursor(last)).unwrap()),
                _ => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), seen.len(), "nothing twice: {seen:?}");
        assert_eq!(sorted, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(seen[..2].iter().all(|s| *s >= 6), "the newest window first: {seen:?}");
    }

    #[test]
    fn snippets_mark_hits_and_escape_everything_else() {
        assert_eq!(
            snippet(&q("cafe"), "Un <b>Café</b> & \"thé\""),
            "Un &lt;b&gt;<mark>Café</mark>&lt;/b&gt; &amp; &quot;thé&quot;"
        );
        assert_eq!(
            snippet(&q("\"big cat\" sm*"), "a big cat, smaller"),
            "a <mark>big cat</mark>, <mark>smaller</mark>"
        );
        assert_eq!(snippet(&q("big"), "bigger big"), "bigger <mark>big</mark>");
        let long = format!("{} needle {}", "hay ".repeat(100), "straw ".repeat(100));
        let s = snippet(&q("needle"), &long);
        assert!(s.starts_with('…') && s.ends_with('…') && s.contains("<mark>needle</mark>"), "{s}");
        assert!(s.replace("<mark>", "").replace("</mark>", "").chars().count() <= SNIPPET_CHARS + 2);
    }

    #[test]
    fn a_spent_deadline_fails_and_no_deadline_never_does() {
        use std::time::Duration;
        let none = Deadline::start(None);
        assert!(matches!(none.left(), Ok(None)));
        assert!(none.exceeded().is_none());
        let spent = Deadline::start(Some(Duration::ZERO));
        assert_eq!(spent.left().unwrap_err(), Error::SearchTooBroad { limit_ms: 0 });
        let ample = Deadline::start(Some(Duration::from_secs(3600)));
        assert!(ample.left().unwrap().is_some_and(|left| left > Duration::from_secs(3500)));
        assert_eq!(ample.exceeded(), Some(Error::SearchTooBroad { limit_ms: 3_600_000 }));
    }
}
