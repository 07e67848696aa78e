-- The managed API gateway: keys, spend limits, usage metering, Stripe reporting and Connect.
-- Money is in cents: whole cents for limits and Stripe amounts, NUMERIC(18,6) for metered costs
-- (an email costs 0.1 cent, a token 0.004 cent). User and app ids are the platform's own strings.

-- One row per platform user (the plan's table, plus the spend limit and alert thresholds).
CREATE TABLE user_subscriptions (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id TEXT NOT NULL UNIQUE,
  tier TEXT NOT NULL DEFAULT 'free'
    CHECK (tier IN ('free', 'starter', 'pro', 'business', 'enterprise')),
  -- Stripe's subscription status; managed APIs need 'active' or 'trialing' and a subscription.
  status TEXT NOT NULL DEFAULT 'incomplete',
  max_deployed_apps INTEGER NOT NULL DEFAULT 0,
  max_custom_domains INTEGER NOT NULL DEFAULT 0,
  stripe_customer_id TEXT,
  stripe_subscription_id TEXT,
  current_period_start TIMESTAMPTZ,
  current_period_end TIMESTAMPTZ,
  spend_limit_cents BIGINT NOT NULL DEFAULT 10000 CHECK (spend_limit_cents >= 0),
  alert_thresholds_percent INTEGER[] NOT NULL DEFAULT '{50,80,100}',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Per-app gateway keys. Only a SHA-256 of the key is kept; the key is shown once when made.
CREATE TABLE gateway_keys (
  key_hash BYTEA PRIMARY KEY,
  key_prefix TEXT NOT NULL,
  user_id TEXT NOT NULL,
  app_id TEXT NOT NULL,
  -- 'platform': calls use the platform's accounts and are billed; 'byo': the caller's own
  -- provider key is forwarded and nothing is billed.
  mode TEXT NOT NULL CHECK (mode IN ('platform', 'byo')),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  revoked_at TIMESTAMPTZ
);
CREATE INDEX gateway_keys_user ON gateway_keys (user_id);

-- Spend per user and month. A call first reserves its maximum cost here in one statement that
-- also checks spent + reserved + maximum <= limit, so concurrent calls cannot pass the limit.
CREATE TABLE api_spend (
  user_id TEXT NOT NULL,
  period DATE NOT NULL,               -- first day of the month, UTC
  limit_cents BIGINT NOT NULL,        -- the limit in force at the latest reservation
  spent_cents NUMERIC(18, 6) NOT NULL DEFAULT 0,
  reserved_cents NUMERIC(18, 6) NOT NULL DEFAULT 0 CHECK (reserved_cents >= 0),
  PRIMARY KEY (user_id, period),
  -- Holds by construction (reservations check it, settlements never exceed what was reserved);
  -- the database refuses any write that would break it all the same.
  CONSTRAINT spend_within_limit CHECK (spent_cents + reserved_cents <= limit_cents)
);

-- The write-ahead record of a call in flight: made with the reservation before the upstream is
-- called, deleted when the call's usage is written. One left behind by a crash is settled later.
CREATE TABLE api_reservations (
  id UUID PRIMARY KEY,
  user_id TEXT NOT NULL,
  app_id TEXT NOT NULL,
  period DATE NOT NULL,
  service TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  price_key TEXT NOT NULL,
  unit_type TEXT NOT NULL,
  max_units BIGINT NOT NULL,
  max_cost_cents NUMERIC(18, 6) NOT NULL,
  instance_id TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX api_reservations_created ON api_reservations (created_at);
CREATE INDEX api_reservations_instance ON api_reservations (instance_id);

-- The Stripe side of each price: its Billing Meter and the metered price backed by it.
CREATE TABLE stripe_metered_prices (
  price_key TEXT PRIMARY KEY,
  meter_id TEXT NOT NULL,
  meter_event_name TEXT NOT NULL,
  stripe_price_id TEXT NOT NULL,
  unit_amount_decimal TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Hourly batches of usage sent to Stripe as Billing Meter events. The identifier is fixed when
-- the batch is made, so sending it again (a retry, a re-run) is deduplicated by Stripe.
CREATE TABLE stripe_meter_reports (
  id BIGSERIAL PRIMARY KEY,
  identifier TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL,
  stripe_customer_id TEXT NOT NULL,
  price_key TEXT NOT NULL,
  event_name TEXT NOT NULL,
  quantity BIGINT NOT NULL CHECK (quantity > 0),
  event_timestamp TIMESTAMPTZ NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  sent_at TIMESTAMPTZ,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT
);
CREATE INDEX stripe_meter_reports_unsent ON stripe_meter_reports (id) WHERE sent_at IS NULL;

-- One row per call (the plan's table). The id is the call's reservation id, so writing the same
-- call twice (a replayed journal) inserts it once.
CREATE TABLE api_usage (
  id UUID PRIMARY KEY,
  user_id TEXT NOT NULL,
  app_id TEXT NOT NULL,
  service TEXT NOT NULL,              -- 'openai' | 'anthropic' | 'email' | 'sms' | 'storage'
  endpoint TEXT NOT NULL,
  units BIGINT NOT NULL,
  unit_type TEXT NOT NULL,            -- 'tokens' | 'emails' | 'sms' | 'bytes'
  cost_cents NUMERIC(18, 6) NOT NULL,
  price_key TEXT NOT NULL,
  billable BOOLEAN NOT NULL,          -- false for bring-your-own-key calls: never sent to Stripe
  period DATE NOT NULL,
  request_metadata JSONB,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  meter_report_id BIGINT REFERENCES stripe_meter_reports (id)
);
CREATE INDEX idx_api_usage_user_date ON api_usage (user_id, created_at DESC);
CREATE INDEX idx_api_usage_app ON api_usage (app_id, created_at DESC);
CREATE INDEX api_usage_unreported ON api_usage (user_id, price_key)
  WHERE meter_report_id IS NULL AND billable AND units > 0;

-- Monthly totals per user (the plan's table; email covers SendGrid and Resend).
CREATE TABLE api_usage_monthly (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id TEXT NOT NULL,
  period_year INTEGER NOT NULL,
  period_month INTEGER NOT NULL,
  openai_tokens BIGINT NOT NULL DEFAULT 0,
  openai_cost_cents NUMERIC(18, 6) NOT NULL DEFAULT 0,
  anthropic_tokens BIGINT NOT NULL DEFAULT 0,
  anthropic_cost_cents NUMERIC(18, 6) NOT NULL DEFAULT 0,
  email_count BIGINT NOT NULL DEFAULT 0,
  email_cost_cents NUMERIC(18, 6) NOT NULL DEFAULT 0,
  twilio_sms BIGINT NOT NULL DEFAULT 0,
  twilio_minutes BIGINT NOT NULL DEFAULT 0,
  twilio_cost_cents NUMERIC(18, 6) NOT NULL DEFAULT 0,
  storage_bytes BIGINT NOT NULL DEFAULT 0,
  storage_cost_cents NUMERIC(18, 6) NOT NULL DEFAULT 0,
  total_cost_cents NUMERIC(18, 6) NOT NULL DEFAULT 0,
  stripe_invoice_id TEXT,
  invoiced_at TIMESTAMPTZ,
  paid_at TIMESTAMPTZ,
  UNIQUE (user_id, period_year, period_month)
);

-- Monthly totals per user, app and service: the usage dashboard's breakdowns.
CREATE TABLE api_usage_app_monthly (
  user_id TEXT NOT NULL,
  period DATE NOT NULL,
  app_id TEXT NOT NULL,
  service TEXT NOT NULL,
  unit_type TEXT NOT NULL,
  calls BIGINT NOT NULL DEFAULT 0,
  units BIGINT NOT NULL DEFAULT 0,
  cost_cents NUMERIC(18, 6) NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, period, app_id, service, unit_type)
);

-- Spend thresholds crossed, once per user, month and threshold.
CREATE TABLE usage_alerts (
  user_id TEXT NOT NULL,
  period DATE NOT NULL,
  threshold_percent INTEGER NOT NULL,
  spent_cents NUMERIC(18, 6) NOT NULL,
  limit_cents BIGINT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, period, threshold_percent)
);

-- Stripe Connect express accounts of users whose apps take payments.
CREATE TABLE stripe_connected_accounts (
  user_id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL UNIQUE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Twilio subaccounts and SendGrid subusers made for users. No credentials are kept: the
-- platform's own credentials act on them (Twilio's account path, SendGrid's on-behalf-of).
CREATE TABLE provider_subaccounts (
  user_id TEXT NOT NULL,
  provider TEXT NOT NULL CHECK (provider IN ('twilio', 'sendgrid')),
  external_id TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, provider)
);
