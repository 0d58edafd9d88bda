-- 005: the language of a campaign (ISO 639-1): its texts' language and the one its annotators' page speaks
-- (pages/i18n.py). Campaigns made before it are English, as their pages were.
ALTER TABLE campaigns ADD COLUMN language VARCHAR DEFAULT 'en';
