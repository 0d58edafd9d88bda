-- 016: adjudicated labels (annotations/judging/adjudication.py, pages/adjudicate.py). A researcher looks at an
-- item where the annotators disagree, blind, and decides; the decision is stored here, apart from the
-- judgments, which it never changes. Append-only: a new decision on the same item is a new row, the latest
-- counts. Results may use them in place of the item's judgments (annotations.stats.competence).
CREATE TABLE adjudications (
    adjudication_id VARCHAR PRIMARY KEY,
    campaign_id     VARCHAR NOT NULL,
    item_id         VARCHAR NOT NULL,
    winner          VARCHAR NOT NULL,            -- a system name, 'tie' or 'both_bad' (de-randomized)
    choice          VARCHAR NOT NULL CHECK (choice IN ('left', 'right', 'tie', 'both_bad')),
    shown_left      VARCHAR NOT NULL,            -- the system the adjudicator saw on the left
    note            VARCHAR,
    adjudicated_by  VARCHAR NOT NULL,            -- the researcher's user_id
    adjudicated_at  TIMESTAMP NOT NULL
);
