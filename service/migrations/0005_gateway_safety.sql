-- Gateway safety: Stripe subscription events applied in order, and the email senders each user
-- has verified.

-- The last subscription event applied to the row (Stripe's `created` and the event id). An event
-- older than it is a late delivery or a replay and is ignored, so it cannot undo a newer state
-- (e.g. re-activate a canceled subscription).
ALTER TABLE user_subscriptions
  ADD COLUMN stripe_event_created TIMESTAMPTZ,
  ADD COLUMN stripe_event_id TEXT;

-- The `from` addresses a user's platform-key emails may use, besides the platform's default
-- sender: one address (`news@shop.example`) or a whole domain (`@shop.example`), lower case.
-- Only verified rows count; a verified sender belongs to one user.
CREATE TABLE email_senders (
  user_id TEXT NOT NULL,
  sender TEXT NOT NULL CHECK (sender = lower(sender) AND sender ~ '^[^@\s<>]*@[^@\s<>]+$'),
  verified_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, sender)
);
CREATE UNIQUE INDEX email_senders_verified_once ON email_senders (sender) WHERE verified_at IS NOT NULL;
