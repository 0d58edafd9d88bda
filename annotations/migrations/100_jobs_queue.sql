-- 100: what the job queue needs beyond migration 001's jobs table (owned by annotations/jobs.py).
ALTER TABLE jobs ADD COLUMN label VARCHAR;                 -- what the jobs page shows, e.g. "train runs/demo"
ALTER TABLE jobs ADD COLUMN depends_on VARCHAR;            -- job_id that must finish first (pipelines), or NULL
ALTER TABLE jobs ADD COLUMN pipeline VARCHAR;              -- groups the jobs of one pipeline (demo, generate+score)
ALTER TABLE jobs ADD COLUMN n_gpus INTEGER DEFAULT 1;      -- GPUs a GPU job takes (> 1: accelerate launch)
ALTER TABLE jobs ADD COLUMN gpus VARCHAR;                  -- CUDA_VISIBLE_DEVICES given at start, e.g. "0,1"
ALTER TABLE jobs ADD COLUMN exit_code INTEGER;
ALTER TABLE jobs ADD COLUMN cancel_requested_at TIMESTAMP;
ALTER TABLE jobs ADD COLUMN env VARCHAR;                   -- JSON of extra environment variables
