-- Puts tests/support/profiles/test_any_hour.json in force (psql -v doc="$(cat ...)"): process
-- tests and benchmarks run at any hour, so they use a profile whose hours and holidays are
-- relaxed with a recorded reason. The contact-policy rules themselves are tested with an
-- injected clock under the built-in default (tests/unit/services, tests/gateway).
INSERT INTO contact_policy_profiles (profile_id, version, document, created_by)
  VALUES ('test_any_hour', 1, :'doc', 'outcall tests') ON CONFLICT DO NOTHING;
INSERT INTO contact_policy_settings (profile_id, version, updated_by)
  VALUES ('test_any_hour', 1, 'outcall tests')
  ON CONFLICT (singleton) DO UPDATE SET profile_id = EXCLUDED.profile_id, version = EXCLUDED.version;
