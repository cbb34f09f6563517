#!/bin/sh
# docker-compose's one-shot "migrate" step: applies db/migrations as the database owner, then
# creates (or updates the password of) one LOGIN role per service and makes it a member of its
# group role from migration 0002. In Kubernetes the database is external: the migration Job runs
# outcall-migrate alone and the login roles are provisioned with the database (docs/deploy.md).
# Passwords come from the environment and are read by psql itself (\getenv), never put on a
# command line.
set -eu

outcall-migrate --dir /opt/outcall/migrations

psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 <<'SQL'
SET client_min_messages = warning;
\getenv gateway_pw CALL_GATEWAY_DB_PASSWORD
\getenv ingest_pw WEBHOOK_INGEST_DB_PASSWORD
\getenv stats_pw STATS_DB_PASSWORD
SELECT format('CREATE ROLE %I LOGIN', r)
  FROM (VALUES ('call_gateway'), ('webhook_ingest'), ('stats')) AS v(r)
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v.r) \gexec
ALTER ROLE call_gateway LOGIN PASSWORD :'gateway_pw';
ALTER ROLE webhook_ingest LOGIN PASSWORD :'ingest_pw';
ALTER ROLE stats LOGIN PASSWORD :'stats_pw';
GRANT outcall_gateway TO call_gateway;
GRANT outcall_ingest TO webhook_ingest;
GRANT outcall_reader TO stats;
SQL
echo "login roles call_gateway, webhook_ingest, stats are ready"
