-- The full-text index kept up to date article by article in the working file (tasks/fts.py),
-- so that publishing copies it instead of re-tokenising every article on every run.
CREATE SEQUENCE search_docid_seq START 0 MINVALUE 0;
CREATE SEQUENCE search_termid_seq START 0 MINVALUE 0;

CREATE TABLE search_docs (
    article_id    VARCHAR PRIMARY KEY,
    content_hash  VARCHAR NOT NULL,
    docid         BIGINT NOT NULL,
    len           BIGINT NOT NULL
);
COMMENT ON TABLE search_docs IS 'Articles in the full-text index, one row each (becomes fts_main_articles.docs in the snapshot).';
COMMENT ON COLUMN search_docs.article_id IS 'The indexed article.';
COMMENT ON COLUMN search_docs.content_hash IS 'articles.content_hash when it was indexed; a different hash means re-index.';
COMMENT ON COLUMN search_docs.docid IS 'Document number used by search_terms.';
COMMENT ON COLUMN search_docs.len IS 'Indexed terms in title and text (after stop words), for BM25 length normalisation.';

CREATE TABLE search_dict (
    term    VARCHAR PRIMARY KEY,
    termid  BIGINT NOT NULL,
    df      BIGINT NOT NULL
);
COMMENT ON TABLE search_dict IS 'Stemmed terms of the full-text index (becomes fts_main_articles.dict).';
COMMENT ON COLUMN search_dict.term IS 'Porter-stemmed, lower-cased, accent-stripped term.';
COMMENT ON COLUMN search_dict.termid IS 'Term number used by search_terms.';
COMMENT ON COLUMN search_dict.df IS 'Indexed articles containing the term (BM25 document frequency).';

CREATE TABLE search_terms (
    docid    BIGINT NOT NULL,
    fieldid  BIGINT NOT NULL,
    termid   BIGINT NOT NULL
);
COMMENT ON TABLE search_terms IS 'One row per indexed term occurrence (becomes fts_main_articles.terms).';
COMMENT ON COLUMN search_terms.docid IS 'search_docs.docid of the article.';
COMMENT ON COLUMN search_terms.fieldid IS '0: title, 1: text.';
COMMENT ON COLUMN search_terms.termid IS 'search_dict.termid of the term.';
