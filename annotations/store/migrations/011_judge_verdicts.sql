-- 011: LLM judges' verdicts on a campaign's pairs (annotations/campaigns/judge_verdicts.py), imported from a run
-- folder's judges/<name>/ (docs/judges.md). Kept apart from human judgments: no statistic of the annotators, no
-- assignment and no annotator page reads these tables; only the researcher's judge card on Results does.
CREATE TABLE judge_runs (
    campaign_id VARCHAR NOT NULL,
    judge       VARCHAR NOT NULL,                -- the judge's name, its folder under judges/
    run_dir     VARCHAR NOT NULL,
    config      VARCHAR,                         -- judge_config.json as JSON (a key's variable name, never the key)
    summary     VARCHAR,                         -- summary.json as JSON ({} while the judge was still running)
    n_verdicts  INTEGER NOT NULL,
    imported_at TIMESTAMP NOT NULL,
    imported_by VARCHAR,
    PRIMARY KEY (campaign_id, judge)
);

CREATE TABLE judge_verdicts (
    campaign_id       VARCHAR NOT NULL,
    judge             VARCHAR NOT NULL,
    item_id           VARCHAR NOT NULL,
    decoding          VARCHAR,
    seed              INTEGER,
    system_a          VARCHAR NOT NULL,          -- the judge's system_a: shown as A in order ab
    system_b          VARCHAR NOT NULL,
    ab_label          VARCHAR,                   -- A, B, C (tie) or NULL (no clear verdict)
    ba_label          VARCHAR,
    ab_winner         VARCHAR,                   -- a system name, 'tie' or NULL
    ba_winner         VARCHAR,
    ab_p_a            DOUBLE PRECISION,
    ab_p_b            DOUBLE PRECISION,
    ab_p_tie          DOUBLE PRECISION,
    ba_p_a            DOUBLE PRECISION,
    ba_p_b            DOUBLE PRECISION,
    ba_p_tie          DOUBLE PRECISION,
    consistent        BOOLEAN,
    verdict           VARCHAR,                   -- the winner when consistent, 'tie' when the orders disagree
    p_b_better        DOUBLE PRECISION,          -- the judge's expected win of its system_b (tie = 1/2)
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    PRIMARY KEY (campaign_id, judge, item_id)
);
