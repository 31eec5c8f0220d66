-- newsflow warehouse, schema version 9: a feed entry is kept from the moment its feed lists it,
-- and a page that failed for a reason that may pass is tried again later, with backoff.
--   * seen_entries gains the entry's headline and date (so a later run can fetch it without
--     the feed listing it again: a feed that answers 304, or has moved on) and when it is due
--     next; its state gains 'pending' (listed, page not requested yet) and 'failed' (tried as
--     often as allowed: final);
--   * raw_pages shows the same for analysts: attempts so far and the next one (NULL: final).
-- Forward-only: never edit this file once released; later changes are new files.

ALTER TABLE seen_entries ADD COLUMN title VARCHAR;
ALTER TABLE seen_entries ADD COLUMN published_at TIMESTAMPTZ;
ALTER TABLE seen_entries ADD COLUMN next_attempt_at TIMESTAMPTZ;
ALTER TABLE raw_pages ADD COLUMN attempts INTEGER;
ALTER TABLE raw_pages ADD COLUMN next_attempt_at TIMESTAMPTZ;

COMMENT ON COLUMN seen_entries.state IS 'pending (listed by its feed, page not requested yet: a killed run leaves it for the next), done (its outcome is stored: an article, a reject, or a final error), archived (the page is in raw_pages but its outcome is not stored yet: a run was killed; the next run finishes it from the archive), retry (a failure that may pass: tried again from next_attempt_at) or failed (tried as often as fetch.page_max_attempts allows).';
COMMENT ON COLUMN seen_entries.attempts IS 'How many times the page was requested (0 while pending).';
COMMENT ON COLUMN seen_entries.title IS 'The entry''s headline in its feed.';
COMMENT ON COLUMN seen_entries.published_at IS 'The entry''s date in its feed.';
COMMENT ON COLUMN seen_entries.next_attempt_at IS 'When a retry is due (UTC): the gap doubles with each attempt, from fetch.page_retry_after_min up to fetch.page_retry_max_h; NULL unless state is retry.';
COMMENT ON COLUMN raw_pages.attempts IS 'How many times the page was requested, this fetch included.';
COMMENT ON COLUMN raw_pages.next_attempt_at IS 'When newsflow will request the page again after this failure (UTC); NULL when this outcome is final.';
