-- Phrases through the index: each pair of adjacent words of a message is also a lexeme of its own
-- (`'~project deadline'`), so a phrase is looked up by its pairs, as cheaply as a rare word.
-- Without them a phrase of two common words made GIN intersect both words' posting lists
-- (hundreds of thousands of entries in a million messages) and read every row holding both for
-- their positions. The words keep their positions, the pairs have none.
--
-- A pair starts with `~`, which no word lexeme does (punctuation is a space to the parser) and no
-- query word can (`confab_core::rules::search` words are alphanumeric): a prefix query `tri:*`
-- never matches a pair, which, having no positions, would make a phrase around it fail.

-- The pairs of a document's (or a phrase's) words, by their positions.
CREATE FUNCTION confab_search_pairs(words tsvector) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY(
        SELECT DISTINCT '~' || w.lexeme || ' ' || n.lexeme
        FROM (SELECT lexeme, unnest(positions) AS position FROM unnest(words)) w
        JOIN (SELECT lexeme, unnest(positions) AS position FROM unnest(words)) n
          ON n.position = w.position + 1)
$$;

-- The words a text is searched by: folded, punctuation as space (see migration 0008).
CREATE FUNCTION confab_search_words(text TEXT) RETURNS tsvector
LANGUAGE sql STABLE AS $$
    SELECT to_tsvector('confab_search', regexp_replace(text, '[[:punct:]]+', ' ', 'g'))
$$;

CREATE OR REPLACE FUNCTION confab_search_document(content TEXT, deleted_at BIGINT) RETURNS tsvector
LANGUAGE sql STABLE AS $$
    SELECT w || array_to_tsvector(confab_search_pairs(w))
    FROM (SELECT CASE WHEN deleted_at IS NULL
                      THEN confab_search_words(content::jsonb ->> 'text') END AS w) d
$$;

-- A query: `words` as `to_tsquery` input (may be empty) and each phrase of two whole words or
-- more by its pairs (`confab_core::rules::search::TsQuery`). A phrase the engine folds to one
-- word is that word.
CREATE FUNCTION confab_search_query(words TEXT, phrases TEXT[]) RETURNS tsquery
LANGUAGE sql STABLE AS $$
    SELECT string_agg('(' || part || ')', ' & ')::tsquery
    FROM (
        SELECT to_tsquery('confab_search', words)::TEXT AS part WHERE words <> ''
        UNION ALL
        SELECT COALESCE(
            (SELECT string_agg('''' || replace(replace(pair, '\', '\\'), '''', '''''') || '''', ' & ')
             FROM unnest(confab_search_pairs(confab_search_words(phrase))) AS pair),
            phraseto_tsquery('confab_search', regexp_replace(phrase, '[[:punct:]]+', ' ', 'g'))::TEXT)
        FROM unnest(phrases) AS phrase
    ) parts
    WHERE part <> ''
$$;

-- Messages stored before: their documents gain the pairs.
UPDATE messages SET search = confab_search_document(content, deleted_at) WHERE search IS NOT NULL;
