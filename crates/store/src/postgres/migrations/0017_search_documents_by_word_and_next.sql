-- Search documents hold each word together with the word after it, as one lexeme (`~a b`),
-- instead of every word and every pair (`confab_core::rules::search::tsvector`): a word is
-- found alone or heading its pairs, a phrase by its pairs, and the GIN index takes about half
-- the entries per message, most of what indexing cost a send. After this script the store
-- rewrites every stored document the new way, in the same transaction
-- (`search::rewrite_documents`).
COMMENT ON COLUMN messages.search IS
    'Search document written by Confab: each word with the next as one lexeme, the last alone';
