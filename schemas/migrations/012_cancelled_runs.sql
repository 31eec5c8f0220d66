-- newsflow warehouse, schema version 12: a run stopped by Ctrl-C or SIGTERM records itself as
-- cancelled. No new column: the meaning of an existing one grows, and its comment says so.

COMMENT ON COLUMN pipeline_runs.status IS 'running, completed, failed (a critical data-quality check failed or a stage raised), cancelled (stopped by Ctrl-C or SIGTERM), or crashed (its process was killed; marked by the next run).';
