-- 013: humans where the judge is unsure (annotations/campaigns/active_selection.py, docs/prediction-powered.md).
-- A campaign switched to it has one row in active_selections and one row per regular (non-gold) item in
-- active_draws: the probability pi_i it was drawn with and the one draw xi_i, made once when switching and never
-- redrawn. The assignment serves only drawn items (and gold items); Results weighs each human label by 1 / pi_i.
-- The judge's verdicts themselves stay in judge_verdicts; nothing here reaches an annotator.
CREATE TABLE active_selections (
    campaign_id VARCHAR PRIMARY KEY,
    judge       VARCHAR NOT NULL,                -- whose uncertainty chose the items (judge_runs.judge)
    budget      DOUBLE PRECISION NOT NULL,       -- expected human-judged items, sum of pi_i
    min_share   DOUBLE PRECISION NOT NULL,       -- pi_i >= min_share * budget / items (bounded away from 0)
    n_items     INTEGER NOT NULL,                -- regular items drawn among
    n_drawn     INTEGER NOT NULL,                -- items with xi_i = 1
    created_at  TIMESTAMP NOT NULL,
    created_by  VARCHAR                          -- the researcher's user_id
);

CREATE TABLE active_draws (
    campaign_id       VARCHAR NOT NULL,
    item_id           VARCHAR NOT NULL,
    judge_p_system_b  DOUBLE PRECISION,          -- the judge's probability that the campaign's system_b is better
                                                 -- (NULL: no verdict on this item; drawn as fully unsure)
    probability       DOUBLE PRECISION NOT NULL, -- pi_i
    drawn             BOOLEAN NOT NULL,          -- xi_i: humans judge this item
    started           BOOLEAN NOT NULL,          -- humans had started it before the switch (pi_i = 1)
    PRIMARY KEY (campaign_id, item_id)
);
