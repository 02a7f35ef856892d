-- Phrases through the index: each pair of adjacent words of a message is also a lexeme of its own
-- (`'~project deadline'`), so a phrase is looked up by its pairs, as cheaply as a rare word.
-- Without them a phrase of two common words made GIN intersect both words' posting lists
-- (hundreds of thousands of entries in a million messages) and read every row holding both for
-- their positions. The words keep their positions, the pairs have none.
--
-- A pair starts with `~`, which no word lexeme does (punctuation is a space to the parser) and no
-- query word can (`confab_core::rules::search` words are alphanumeric): a prefix query `tri:*`
-- never matches a pair, which, having no positions, would make a phrase around it fail.
--
-- Pairs are cut from the text as `confab_core::rules::search` cuts words (alphanumeric runs),
-- folded by `unaccent` and `lower` as the configuration folds words, and by the same function for
-- messages and for queries. They only find candidates: search checks each candidate's text for
-- the phrase itself. PL/pgSQL rather than SQL, because its plans are kept for the session: a SQL
-- function with a subquery is planned again on every call, which made a write 100 µs slower.
DO $do$
DECLARE
    ext_schema TEXT;
BEGIN
    SELECT n.nspname INTO ext_schema
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent';
    EXECUTE format($f$
        CREATE FUNCTION confab_search_pairs(words_of TEXT) RETURNS TEXT[]
        LANGUAGE plpgsql STABLE AS $body$
        DECLARE
            words TEXT[] := regexp_split_to_array(lower(%I.unaccent(words_of)), '[^[:alnum:]]+');
            pairs TEXT[] := '{}';
        BEGIN
            FOR i IN 1 .. coalesce(array_length(words, 1), 0) - 1 LOOP
                -- Empty at either end of the text; a pair too long to be a lexeme is left out.
                IF words[i] <> '' AND words[i + 1] <> ''
                   AND length(words[i]) + length(words[i + 1]) <= 200 THEN
                    pairs := pairs || ('~' || words[i] || ' ' || words[i + 1]);
                END IF;
            END LOOP;
            RETURN pairs;
        END
        $body$
    $f$, ext_schema);
END
$do$;

CREATE OR REPLACE FUNCTION confab_search_document(content TEXT, deleted_at BIGINT) RETURNS tsvector
LANGUAGE plpgsql STABLE AS $$
DECLARE
    body TEXT;
BEGIN
    IF deleted_at IS NOT NULL THEN
        RETURN NULL;
    END IF;
    body := content::jsonb ->> 'text';
    IF body IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN to_tsvector('confab_search', regexp_replace(body, '[[:punct:]]+', ' ', 'g'))
        || array_to_tsvector(confab_search_pairs(body));
END
$$;

-- A query: `words` as `to_tsquery` input (may be empty) and each phrase of two whole words or
-- more by its pairs (`confab_core::rules::search::TsQuery`); a phrase with no pair to look up
-- (its words fold to one) is the phrase as the parser reads it.
CREATE FUNCTION confab_search_query(words TEXT, phrases TEXT[]) RETURNS tsquery
LANGUAGE sql STABLE AS $$
    SELECT string_agg('(' || part || ')', ' & ')::tsquery
    FROM (
        SELECT to_tsquery('confab_search', words)::TEXT AS part WHERE words <> ''
        UNION ALL
        SELECT COALESCE(
            (SELECT string_agg('''' || replace(replace(pair, '\', '\\'), '''', '''''') || '''', ' & ')
             FROM unnest(confab_search_pairs(phrase)) AS pair),
            phraseto_tsquery('confab_search', regexp_replace(phrase, '[[:punct:]]+', ' ', 'g'))::TEXT)
        FROM unnest(phrases) AS phrase
    ) parts
    WHERE part <> ''
$$;

-- Messages stored before: their documents gain the pairs.
UPDATE messages SET search = confab_search_document(content, deleted_at) WHERE search IS NOT NULL;
