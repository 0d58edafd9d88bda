-- 001: the whole first schema. Ids are opaque strings made in Python (uuid4 hex, "ann-3f2a9c"), timestamps are
-- naive TIMESTAMPs in UTC. Judgments are append-only: an edit is a new row with version + 1.

CREATE TABLE users (
    user_id       VARCHAR PRIMARY KEY,          -- pseudonymous id shown in every analysis, e.g. ann-3f2a9c
    username      VARCHAR NOT NULL UNIQUE,      -- what the person types to log in
    role          VARCHAR NOT NULL CHECK (role IN ('annotator', 'researcher')),
    password_hash VARCHAR NOT NULL,             -- argon2id
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMP NOT NULL,
    created_by    VARCHAR
);

CREATE TABLE invitations (
    token       VARCHAR PRIMARY KEY,
    role        VARCHAR NOT NULL CHECK (role IN ('annotator', 'researcher')),
    created_by  VARCHAR,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_by     VARCHAR,
    used_at     TIMESTAMP
);

CREATE TABLE campaigns (
    campaign_id         VARCHAR PRIMARY KEY,
    name                VARCHAR NOT NULL,
    system_a            VARCHAR NOT NULL,
    system_b            VARCHAR NOT NULL,
    k                   INTEGER NOT NULL,      -- judgments per (non-gold) item, by distinct annotators
    run_dir             VARCHAR,               -- run folder the outputs came from, or NULL
    source_file         VARCHAR,               -- CSV/JSONL the outputs came from, or NULL
    selection           VARCHAR NOT NULL,      -- all | random | critical
    show_reference      BOOLEAN NOT NULL,
    instructions        VARCHAR,
    lease_minutes       DOUBLE PRECISION NOT NULL,
    gold_rate           DOUBLE PRECISION NOT NULL,
    repeat_rate         DOUBLE PRECISION NOT NULL,
    items_per_annotator INTEGER,               -- NULL: as many as the pool holds
    config              VARCHAR NOT NULL,      -- the CampaignConfig as JSON
    status              VARCHAR NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    created_at          TIMESTAMP NOT NULL,
    created_by          VARCHAR
);

CREATE TABLE criteria (
    campaign_id VARCHAR NOT NULL,
    position    INTEGER NOT NULL,
    name        VARCHAR NOT NULL,
    description VARCHAR,
    min_score   INTEGER NOT NULL,
    max_score   INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, name)
);

CREATE TABLE systems (
    campaign_id VARCHAR NOT NULL,
    system      VARCHAR NOT NULL,
    decoding    VARCHAR,
    seed        INTEGER,
    origin      VARCHAR,                       -- file the outputs were read from
    PRIMARY KEY (campaign_id, system)
);

CREATE TABLE items (
    campaign_id      VARCHAR NOT NULL,
    item_id          VARCHAR NOT NULL,
    position         INTEGER NOT NULL,
    prompt           VARCHAR,
    source           VARCHAR,
    reference_texts  VARCHAR[],
    metadata         VARCHAR,                  -- JSON
    is_gold          BOOLEAN NOT NULL DEFAULT FALSE,
    gold_winner      VARCHAR,                  -- system name, 'tie' or 'both_bad' for gold items
    selection_reason VARCHAR,                  -- e.g. 'critical: disagreement 2.31'
    PRIMARY KEY (campaign_id, item_id)
);

CREATE TABLE outputs (
    campaign_id VARCHAR NOT NULL,
    item_id     VARCHAR NOT NULL,
    system      VARCHAR NOT NULL,
    decoding    VARCHAR,
    seed        INTEGER,
    output      VARCHAR NOT NULL,
    n_words     INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, item_id, system)
);

CREATE TABLE metrics (
    campaign_id VARCHAR NOT NULL,
    item_id     VARCHAR NOT NULL,
    system      VARCHAR NOT NULL,
    metric      VARCHAR NOT NULL,
    value       DOUBLE PRECISION,
    PRIMARY KEY (campaign_id, item_id, system, metric)
);

CREATE TABLE assignments (
    assignment_id    VARCHAR PRIMARY KEY,      -- the only handle the annotator's browser ever sees
    campaign_id      VARCHAR NOT NULL,
    item_id          VARCHAR NOT NULL,
    annotator_id     VARCHAR NOT NULL,
    shown_left       VARCHAR NOT NULL,
    shown_right      VARCHAR NOT NULL,
    status           VARCHAR NOT NULL CHECK (status IN ('open', 'submitted', 'skipped', 'expired')),
    is_gold          BOOLEAN NOT NULL DEFAULT FALSE,
    is_repeat        BOOLEAN NOT NULL DEFAULT FALSE,
    repeat_of        VARCHAR,
    served_at        TIMESTAMP NOT NULL,
    lease_expires_at TIMESTAMP NOT NULL,
    submitted_at     TIMESTAMP
);

CREATE TABLE judgments (
    judgment_id   VARCHAR PRIMARY KEY,
    assignment_id VARCHAR NOT NULL,
    campaign_id   VARCHAR NOT NULL,
    item_id       VARCHAR NOT NULL,
    annotator_id  VARCHAR NOT NULL,
    version       INTEGER NOT NULL CHECK (version >= 1),
    choice        VARCHAR NOT NULL CHECK (choice IN ('left', 'right', 'tie', 'both_bad')),
    winner        VARCHAR NOT NULL,            -- de-randomized: a system name, 'tie' or 'both_bad'
    comment       VARCHAR,
    served_at     TIMESTAMP NOT NULL,
    submitted_at  TIMESTAMP NOT NULL,
    duration_s    DOUBLE PRECISION,
    UNIQUE (assignment_id, version)
);

CREATE TABLE judgment_scores (
    judgment_id VARCHAR NOT NULL,
    criterion   VARCHAR NOT NULL,
    side        VARCHAR NOT NULL CHECK (side IN ('left', 'right')),
    system      VARCHAR NOT NULL,
    score       INTEGER NOT NULL,
    PRIMARY KEY (judgment_id, criterion, side)
);

CREATE TABLE jobs (
    job_id      VARCHAR PRIMARY KEY,
    kind        VARCHAR,
    run_dir     VARCHAR,
    command     VARCHAR,                       -- JSON list
    status      VARCHAR,
    pid         INTEGER,
    created_at  TIMESTAMP,
    started_at  TIMESTAMP,
    finished_at TIMESTAMP,
    error       VARCHAR,
    log_path    VARCHAR,
    needs_gpu   BOOLEAN
);
