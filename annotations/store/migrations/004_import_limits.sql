-- 004: what an import did to long texts. Texts over the campaign's limit are refused, or cut when the researcher
-- asks (CampaignConfig.truncate_long_texts); the record says how many were cut and at which limit.
ALTER TABLE campaigns ADD COLUMN max_text_chars INTEGER;              -- characters per source/prompt/output/reference
ALTER TABLE campaigns ADD COLUMN texts_truncated INTEGER DEFAULT 0;   -- texts the import cut to max_text_chars
