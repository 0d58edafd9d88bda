-- 002: the randomization design of each campaign (annotations.design). The secret decides every annotator's
-- left sides and item order and never leaves the server; design_id is a public commitment to it (in the export).
ALTER TABLE campaigns ADD COLUMN design_secret VARCHAR;
ALTER TABLE campaigns ADD COLUMN design_id VARCHAR;
-- Campaigns created before this migration get their secret here from DuckDB's random UUIDs (new campaigns get
-- 256 bits from Python's `secrets`); design_id as annotations.design.design_id computes it.
UPDATE campaigns SET design_secret = sha256(gen_random_uuid()::VARCHAR || gen_random_uuid()::VARCHAR || campaign_id);
UPDATE campaigns SET design_id = left(sha256('design-id:' || design_secret), 16);
