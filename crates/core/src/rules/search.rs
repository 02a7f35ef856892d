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
//! # Order and cursor
//! Results come best first, in relevance tiers (the engine's score — BM25 in SQLite, `ts_rank` in
//! PostgreSQL — cut into coarse steps, so that near-equal scores are equal), newer first within a
//! tier, then by conversation and sequence number (both descending) so that the order is total.
//! The cursor is that key of the last result given (keyset paging): a later page starts strictly
//! after it, so messages appended between pages never push a result onto a second page or off the
//! next one. A message that changes tier between pages (edited, or in SQLite a score moved
//! across a tier boundary by the corpus statistics) can be seen twice or missed once.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::{Error, Result};

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 256;
/// Most terms a query may have (more are `INVALID_REQUEST`): each is one more index lookup.
pub const MAX_TERMS: usize = 16;
pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;
/// Characters of text a snippet shows around its first hit (more text is cut with `…`).
pub const SNIPPET_CHARS: usize = 160;
/// Of which before the first hit, at most.
const SNIPPET_LEAD_CHARS: usize = 40;

/// One term of a query: a word (one entry) or a phrase (several), the last word a prefix when
/// `prefix`. Words keep the user's spelling: each engine folds case and accents its own way.
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
    word.nfd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase).collect()
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
    /// The query in FTS5 syntax: every word quoted (so it is only ever a word), terms side by
    /// side (all must match). `None` when there is nothing to search for.
    pub fn fts5(&self) -> Option<String> {
        if self.terms.is_empty() {
            return None;
        }
        let terms: Vec<String> = self
            .terms
            .iter()
            .map(|t| {
                let quoted = format!("\"{}\"", t.words.join(" ").replace('"', "\"\""));
                if t.prefix {
                    format!("{quoted} *")
                } else {
                    quoted
                }
            })
            .collect();
        Some(terms.join(" "))
    }

    /// The query as PostgreSQL `to_tsquery` input: every word quoted as a lexeme, phrases
    /// followed by `<->`, terms joined by `&`. `None` when there is nothing to search for.
    pub fn tsquery(&self) -> Option<String> {
        if self.terms.is_empty() {
            return None;
        }
        let lexeme = |w: &str| format!("'{}'", w.replace('\'', "''").replace('\\', "\\\\"));
        let terms: Vec<String> = self
            .terms
            .iter()
            .map(|t| {
                let last = t.words.len() - 1;
                let words: Vec<String> = t
                    .words
                    .iter()
                    .enumerate()
                    .map(|(i, w)| if i == last && t.prefix { format!("{}:*", lexeme(w)) } else { lexeme(w) })
                    .collect();
                format!("({})", words.join(" <-> "))
            })
            .collect();
        Some(terms.join(" & "))
    }
}

/// Where a result stands in the order (see the module docs): greater is earlier.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SearchKey {
    pub tier: i64,
    pub created_at: i64,
    pub conversation_id: String,
    pub sequence_number: u64,
}

const CURSOR_VERSION: &str = "s1";

/// The opaque cursor for the results after `key`.
pub fn encode_cursor(key: &SearchKey) -> String {
    let plain = format!(
        "{CURSOR_VERSION}:{}:{}:{}:{}",
        key.tier, key.created_at, key.sequence_number, key.conversation_id
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
    let mut parts = plain.splitn(5, ':');
    if parts.next() != Some(CURSOR_VERSION) {
        return Err(bad());
    }
    let tier = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let created_at = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let sequence_number = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let conversation_id = parts.next().filter(|c| !c.is_empty()).ok_or_else(bad)?.to_string();
    Ok(SearchKey { tier, created_at, conversation_id, sequence_number })
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
        let matched = terms.iter().filter_map(|(words, prefix)| {
            let n = words.len();
            let fits = i + n <= spans.len()
                && words.iter().enumerate().all(|(k, w)| {
                    let doc = &folded[i + k];
                    if k == n - 1 && *prefix {
                        doc.starts_with(w.as_str())
                    } else {
                        doc == w
                    }
                });
            fits.then_some(n)
        });
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
        assert_eq!(q("NEAR(a b)").fts5().unwrap(), r#""NEAR" "a" "b""#);
        // An unbalanced quote is text: the words after it are plain words.
        assert_eq!(q(r#"say "hi there"#).terms.len(), 3);
        assert!(q("*** \"\" ()").terms.is_empty());
        assert_eq!(q("*** ()").fts5(), None);
        assert_eq!(q("it's").tsquery().unwrap(), "('it') & ('s')");
        assert_eq!(q(r#""a b"* c*"#).tsquery().unwrap(), "('a' <-> 'b':*) & ('c':*)");
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
        let key = SearchKey { tier: -3, created_at: 17, conversation_id: "c:1".into(), sequence_number: 9 };
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
}
