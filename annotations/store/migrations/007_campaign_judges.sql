-- 007: who may judge a campaign (annotations/campaigns/judges.py). A campaign with no row here is open to every
-- account, as every campaign was before; with rows, only the accounts listed get pairs and may submit.
CREATE TABLE campaign_judges (
    campaign_id VARCHAR NOT NULL,
    user_id     VARCHAR NOT NULL,
    added_at    TIMESTAMP NOT NULL,
    added_by    VARCHAR,                       -- the researcher's user_id
    PRIMARY KEY (campaign_id, user_id)
);
