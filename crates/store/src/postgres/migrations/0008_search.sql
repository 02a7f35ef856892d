-- Message search: a tsvector per message, kept by a trigger in the transaction that writes the
-- message, with a GIN index. Words are folded by a text search configuration of this schema
-- (`simple`, no stemming, behind `unaccent`), so case and accents do not matter.
--
-- `unaccent` is installed once per database (in `public` when it is missing); each schema using
-- Confab has its own configuration, pointing at the dictionary wherever the extension lives, so
-- dropping one schema never takes another's search with it.
DO $$
DECLARE
    ext_schema TEXT;
BEGIN
    SELECT n.nspname INTO ext_schema
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent';
    IF ext_schema IS NULL THEN
        CREATE EXTENSION unaccent SCHEMA public;
        ext_schema := 'public';
    END IF;
    CREATE TEXT SEARCH CONFIGURATION confab_search (COPY = pg_catalog.simple);
    EXECUTE format(
        'ALTER TEXT SEARCH CONFIGURATION confab_search ALTER MAPPING FOR
             asciiword, asciihword, hword_asciipart, word, hword, hword_part, numword, numhword, hword_numpart
         WITH %I.unaccent, pg_catalog.simple',
        ext_schema);
END
$$;

-- The words of a message: the text of a text message or an attachment's caption, none for a
-- tombstone. ASCII punctuation separates words (as SQLite's tokenizer has it), so an address
-- like `a@b.com` is the words `a`, `b`, `com` rather than one token.
CREATE FUNCTION confab_search_document(content TEXT, deleted_at BIGINT) RETURNS tsvector
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN deleted_at IS NULL AND (content::jsonb ->> 'text') IS NOT NULL
        THEN to_tsvector('confab_search', regexp_replace(content::jsonb ->> 'text', '[[:punct:]]+', ' ', 'g'))
    END
$$;

ALTER TABLE messages ADD COLUMN search tsvector;

CREATE FUNCTION confab_search_index() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search := confab_search_document(NEW.content, NEW.deleted_at);
    RETURN NEW;
END
$$;

CREATE TRIGGER messages_search BEFORE INSERT OR UPDATE OF content, deleted_at ON messages
    FOR EACH ROW EXECUTE FUNCTION confab_search_index();

-- Messages stored before search existed.
UPDATE messages SET search = confab_search_document(content, deleted_at);

CREATE INDEX messages_search ON messages USING GIN (search);
