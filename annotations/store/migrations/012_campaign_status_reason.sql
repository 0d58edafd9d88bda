-- 012: why a campaign was last closed or reopened, and when (annotations/campaigns/queries.py `set_status`):
-- "closed automatically: decided — the fine-tune is better" when the anytime-valid stop closed it
-- (CampaignConfig.close_when_decided), NULL for a researcher's click and for campaigns made before it.
ALTER TABLE campaigns ADD COLUMN status_reason VARCHAR;
ALTER TABLE campaigns ADD COLUMN status_changed_at TIMESTAMP;
