-- 100: what the job queue needs beyond migration 001's jobs table (owned by annotations/jobs.py). A side table
-- keyed by job_id, so the contract's jobs table keeps exactly its columns.
CREATE TABLE job_extras (
    job_id              VARCHAR PRIMARY KEY,   -- jobs.job_id
    label               VARCHAR,               -- what the jobs page shows, e.g. "train demo"
    depends_on          VARCHAR,               -- job_id that must finish first (pipelines), or NULL
    pipeline            VARCHAR,               -- groups the jobs of one pipeline (demo, generate + score)
    n_gpus              INTEGER NOT NULL DEFAULT 1,  -- GPUs a GPU job takes (> 1: accelerate launch)
    gpus                VARCHAR,               -- CUDA_VISIBLE_DEVICES given at start, e.g. "0,1"
    exit_code           INTEGER,
    cancel_requested_at TIMESTAMP,
    env                 VARCHAR                -- JSON of extra environment variables
);
