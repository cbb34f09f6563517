-- Issue 16: a campaign may name the contact-policy profile version its dials are decided under
-- (a clinic's stricter profile for one campaign, say consent required for reminders), instead of
-- the one in force at each dial. Both columns or neither; the version must exist (profiles never
-- change, so the campaign's decisions stay reproducible). Set when the campaign is created.
ALTER TABLE campaigns ADD COLUMN policy_profile_id text;
ALTER TABLE campaigns ADD COLUMN policy_profile_version integer;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_policy_profile_check
  CHECK ((policy_profile_id IS NULL) = (policy_profile_version IS NULL));
ALTER TABLE campaigns ADD CONSTRAINT campaigns_policy_profile_fkey
  FOREIGN KEY (policy_profile_id, policy_profile_version)
  REFERENCES contact_policy_profiles (profile_id, version);
COMMENT ON COLUMN campaigns.policy_profile_id IS
  'The contact-policy profile its dials are decided under (NULL: the one in force at each dial).';
