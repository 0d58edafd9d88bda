-- 014: crowd studies (annotations/crowd/, docs/crowd.md). A campaign opened as a study for a panel (Prolific,
-- MTurk or a generic one) has one row in crowd_studies; its link carries the study id and a secret whose
-- SHA-256 (hex) alone is stored, as for invitations (010). A participant arriving through the link gets one
-- passwordless account per platform id (crowd_accounts, never a second one), one row per study they took
-- (crowd_participants: their platform ids, which are personal data and shown to researchers only, the session
-- the study was bound to at the first arrival, the phase they are in), the outcome of every phase they went
-- through (crowd_phase_outcomes), their training answers, and the attention checks mixed into their task,
-- which are stored here and never as judgments, so no statistic counts them.
CREATE TABLE crowd_studies (
    study_id      VARCHAR PRIMARY KEY,           -- 'stu-...', in the link
    campaign_id   VARCHAR NOT NULL,
    platform      VARCHAR NOT NULL CHECK (platform IN ('prolific', 'mturk', 'generic')),
    secret_hash   VARCHAR NOT NULL,              -- SHA-256 (hex) of the link's key
    config        VARCHAR NOT NULL,              -- the StudyConfig as JSON (training items included)
    status        VARCHAR NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at    TIMESTAMP NOT NULL,
    created_by    VARCHAR
);

CREATE TABLE crowd_accounts (
    platform       VARCHAR NOT NULL,
    participant_id VARCHAR NOT NULL,             -- the panel's id (personal data)
    user_id        VARCHAR NOT NULL UNIQUE,
    created_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (platform, participant_id)
);

CREATE TABLE crowd_participants (
    study_id         VARCHAR NOT NULL,
    user_id          VARCHAR NOT NULL,
    participant_id   VARCHAR NOT NULL,           -- the panel's id (personal data)
    platform_ids     VARCHAR,                    -- JSON: STUDY_ID, SESSION_ID / assignmentId, hitId, turkSubmitTo
    bound_session_id VARCHAR NOT NULL,           -- the session of the first arrival: the only one that may act
    language         VARCHAR,                    -- from the link's lang=, else the campaign's
    phase            VARCHAR NOT NULL,           -- consent, instructions, training, task, complete, screened_out
    arrived_at       TIMESTAMP NOT NULL,
    task_started_at  TIMESTAMP,
    finished_at      TIMESTAMP,
    refused_arrivals INTEGER NOT NULL DEFAULT 0, -- arrivals with this id refused (no bound session)
    PRIMARY KEY (study_id, user_id)
);

CREATE TABLE crowd_phase_outcomes (
    study_id    VARCHAR NOT NULL,
    user_id     VARCHAR NOT NULL,
    phase       VARCHAR NOT NULL,
    outcome     VARCHAR NOT NULL,                -- agreed, declined, read, passed, failed, completed, time_limit
    score       DOUBLE PRECISION,                -- training: share correct
    recorded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (study_id, user_id, phase)
);

CREATE TABLE crowd_training_answers (
    study_id    VARCHAR NOT NULL,
    user_id     VARCHAR NOT NULL,
    item_id     VARCHAR NOT NULL,
    shown_left  VARCHAR NOT NULL,                -- the system shown as A
    choice      VARCHAR NOT NULL CHECK (choice IN ('left', 'right', 'tie', 'both_bad')),
    winner      VARCHAR NOT NULL,                -- de-randomized, as in judgments
    correct     BOOLEAN NOT NULL,
    answered_at TIMESTAMP NOT NULL,
    PRIMARY KEY (study_id, user_id, item_id)
);

CREATE TABLE crowd_attention_checks (
    check_id    VARCHAR PRIMARY KEY,
    study_id    VARCHAR NOT NULL,
    user_id     VARCHAR NOT NULL,
    position    INTEGER NOT NULL,                -- 1, 2, ... in the participant's task
    kind        VARCHAR NOT NULL CHECK (kind IN ('identical', 'instructed')),
    text        VARCHAR NOT NULL,                -- shown on both sides
    source      VARCHAR,                         -- identical: the item's source, shown above as for a pair
    expected    VARCHAR NOT NULL CHECK (expected IN ('left', 'right', 'tie', 'both_bad')),
    choice      VARCHAR,
    passed      BOOLEAN,
    served_at   TIMESTAMP NOT NULL,
    answered_at TIMESTAMP,
    UNIQUE (study_id, user_id, position)
);
