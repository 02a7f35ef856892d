-- Search documents are written by Confab itself (`confab_core::rules::search::tsvector`) with
-- each insert and change of a message, and queries are folded by the same code
-- (`SearchQuery::tsquery`): the database does no text work on the send path (the trigger's
-- words and word pairs cost it about 28 µs of CPU per message), and a message and a query can
-- never be folded two different ways. After this script the store rewrites every stored
-- document the new way, in the same transaction (`search_documents::rewrite`).
DROP TRIGGER messages_search ON messages;
DROP FUNCTION confab_search_index();
DROP FUNCTION confab_search_query(TEXT, TEXT[]);
DROP FUNCTION confab_search_document(TEXT, BIGINT);
DROP FUNCTION confab_search_pairs(TEXT);
DROP TEXT SEARCH CONFIGURATION confab_search;
