-- The deploy service: deployed apps, their deployments and steps, usage, credentials, API tokens.
-- `user_subscriptions`, `api_usage` and `api_usage_monthly` come from 0001 (the gateway) and are
-- shared. User ids are the platform's own strings; app ids are the Pulumi stack names.
-- Encrypted columns hold service/vault.py envelopes (key version + nonce + AES-256-GCM ciphertext),
-- bound to their table, row and column, so a value copied to another row does not decrypt.

-- One row per app (the plan's table). `app_id` is the stack; `status` follows its latest deploy.
CREATE TABLE deployed_apps (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  app_id TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL,
  project_id TEXT,
  name TEXT,
  platform TEXT NOT NULL DEFAULT 'web'
    CHECK (platform IN ('web', 'database', 'ios', 'android', 'windows', 'macos', 'linux')),
  status TEXT NOT NULL
    CHECK (status IN ('provisioning', 'deploying', 'active', 'failed', 'suspended')),
  deployment_url TEXT,
  custom_domain TEXT,
  database_provider TEXT CHECK (database_provider IN ('turso', 'neon', 'byo')),
  database_id TEXT,
  database_url_encrypted BYTEA,
  hosting_provider TEXT,
  hosting_project_id TEXT,
  tier TEXT NOT NULL DEFAULT 'starter',
  config JSONB,
  -- Set when the app's resources were destroyed; the row stays for its history and usage.
  destroyed_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  last_deployed_at TIMESTAMPTZ
);
CREATE INDEX deployed_apps_user ON deployed_apps (user_id) WHERE destroyed_at IS NULL;
-- One app per custom domain across every user.
CREATE UNIQUE INDEX deployed_apps_custom_domain ON deployed_apps (custom_domain)
  WHERE custom_domain IS NOT NULL AND destroyed_at IS NULL;

-- Usage per app and period (the plan's table); costs in whole cents.
CREATE TABLE deployment_usage (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  deployed_app_id UUID NOT NULL REFERENCES deployed_apps (id),
  period_start TIMESTAMPTZ NOT NULL,
  period_end TIMESTAMPTZ NOT NULL,
  db_reads BIGINT NOT NULL DEFAULT 0,
  db_writes BIGINT NOT NULL DEFAULT 0,
  db_storage_bytes BIGINT NOT NULL DEFAULT 0,
  requests BIGINT NOT NULL DEFAULT 0,
  bandwidth_bytes BIGINT NOT NULL DEFAULT 0,
  compute_ms BIGINT NOT NULL DEFAULT 0,
  database_cost_cents INTEGER NOT NULL DEFAULT 0,
  hosting_cost_cents INTEGER NOT NULL DEFAULT 0,
  total_cost_cents INTEGER NOT NULL DEFAULT 0,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (deployed_app_id, period_start)
);

-- A user's own credentials for vendors (their Turso token, a BYO database URL, a Stripe key...).
CREATE TABLE user_credentials (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id TEXT NOT NULL,
  provider TEXT NOT NULL,
  name TEXT NOT NULL,
  value_encrypted BYTEA NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (user_id, provider, name)
);

-- One row per requested operation on an app: its history. The spec is stored without secrets;
-- the secrets it needs (a BYO URL, secret env vars) are in `secrets_encrypted`.
CREATE TABLE deployments (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  app_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('web', 'database', 'migrate-data', 'domain', 'destroy')),
  status TEXT NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  spec JSONB NOT NULL,
  secrets_encrypted BYTEA,
  job_id BIGINT,
  attempts INTEGER NOT NULL DEFAULT 0,
  -- Where the latest attempt runs (host and pid) and since when: how a retry after a crash
  -- recognises the Pulumi lock its predecessor left behind.
  worker TEXT,
  worker_host TEXT,
  attempt_started_at TIMESTAMPTZ,
  outputs JSONB,
  changes JSONB,
  error TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  started_at TIMESTAMPTZ,
  finished_at TIMESTAMPTZ
);
CREATE INDEX deployments_app ON deployments (app_id, created_at DESC);
CREATE INDEX deployments_user ON deployments (user_id, created_at DESC);

-- The plan's "Deployment Status" steps of each deployment, as last reported.
CREATE TABLE deployment_steps (
  deployment_id UUID NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  key TEXT NOT NULL,
  title TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed', 'skipped')),
  elapsed_seconds NUMERIC(10, 2) NOT NULL DEFAULT 0,
  detail TEXT NOT NULL DEFAULT '',
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (deployment_id, key)
);

-- Every progress report in order: what the server-sent event stream replays (from any API
-- instance, after any restart, resuming at Last-Event-ID).
CREATE TABLE deployment_events (
  id BIGSERIAL PRIMARY KEY,
  deployment_id UUID NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('queued', 'started', 'steps', 'recovered', 'finished')),
  payload JSONB NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX deployment_events_deployment ON deployment_events (deployment_id, id);

-- Per-user API tokens for the deploy API. Only a SHA-256 of the token is kept (tokens are 256
-- random bits, so a fast hash is enough); the token is shown once when made.
CREATE TABLE api_tokens (
  token_hash BYTEA PRIMARY KEY,
  token_prefix TEXT NOT NULL,
  user_id TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  last_used_at TIMESTAMPTZ,
  revoked_at TIMESTAMPTZ
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
