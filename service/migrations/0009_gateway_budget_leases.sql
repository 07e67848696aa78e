-- Budget leases: each gateway process holds a block of an account's remaining monthly budget and
-- admits calls against it in memory, so a call needs no database round trip before it is
-- forwarded. The sum of all leases stays within what the limit leaves:
-- spent + reserved (per-call reservations of older gateways) + leased <= limit, checked by the
-- constraint below as before.
--
-- Every function here that changes a lease first locks the account's api_spend row, and so does
-- the usage writer before it settles calls against leases: one lock order, no deadlocks, and a
-- lease cannot change between the writer reading it and settling against it.

ALTER TABLE api_spend ADD COLUMN leased_cents NUMERIC(18, 6) NOT NULL DEFAULT 0 CHECK (leased_cents >= 0);
ALTER TABLE api_spend DROP CONSTRAINT spend_within_limit;
ALTER TABLE api_spend ADD CONSTRAINT spend_within_limit
  CHECK (spent_cents + reserved_cents + leased_cents <= limit_cents);

-- One lease per account, month and gateway process (its journal's instance id). A process extends
-- `expires_at` while it lives; a crashed process's lease is given back once it has expired.
CREATE TABLE api_spend_leases (
  user_id TEXT NOT NULL,
  period DATE NOT NULL,
  instance_id TEXT NOT NULL,
  held_cents NUMERIC(18, 6) NOT NULL CHECK (held_cents >= 0),
  expires_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (user_id, period, instance_id)
);

-- Add to this process's lease of the account's budget for the current month, after checking that
-- billing is active. `p_need` must be granted or nothing is (the call waiting for it is refused);
-- up to `p_want` is granted, but never more than an even share of what is free among the
-- processes holding leases on the account. One row: whether it was granted, what was added, what
-- the lease holds now, and the account's figures for a refusal message.
CREATE FUNCTION gateway_lease_grant(
  p_user TEXT, p_instance TEXT, p_need NUMERIC, p_want NUMERIC, p_ttl_seconds DOUBLE PRECISION
) RETURNS TABLE (
  granted BOOLEAN, lease_period DATE, added_cents NUMERIC, lease_held_cents NUMERIC, sub_status TEXT,
  subscribed BOOLEAN, limit_cents BIGINT, spent_cents NUMERIC, held_cents NUMERIC
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_period DATE := (date_trunc('month', now() AT TIME ZONE 'UTC'))::date;
  v_status TEXT;
  v_subscribed BOOLEAN;
  v_limit BIGINT;
  v_spent NUMERIC;
  v_held NUMERIC;
  v_free NUMERIC;
  v_others INTEGER;
  v_add NUMERIC;
  v_lease NUMERIC;
BEGIN
  SELECT u.status, u.stripe_subscription_id IS NOT NULL, u.spend_limit_cents
    INTO v_status, v_subscribed, v_limit
    FROM user_subscriptions u WHERE u.user_id = p_user;
  IF NOT FOUND THEN
    RETURN;  -- no row: billing was never set up
  END IF;
  IF v_status NOT IN ('active', 'trialing') OR NOT v_subscribed THEN
    RETURN QUERY SELECT false, v_period, 0::numeric, 0::numeric, v_status, v_subscribed, v_limit, 0::numeric,
                        0::numeric;
    RETURN;
  END IF;
  IF p_need <= v_limit THEN
    INSERT INTO api_spend AS s (user_id, period, limit_cents) VALUES (p_user, v_period, v_limit)
    ON CONFLICT (user_id, period) DO NOTHING;
  END IF;
  SELECT s.spent_cents, s.reserved_cents + s.leased_cents INTO v_spent, v_held
    FROM api_spend s WHERE s.user_id = p_user AND s.period = v_period FOR UPDATE;
  IF NOT FOUND THEN  -- not made above: the call alone costs more than the limit
    RETURN QUERY SELECT false, v_period, 0::numeric, 0::numeric, v_status, v_subscribed, v_limit, 0::numeric,
                        0::numeric;
    RETURN;
  END IF;
  v_free := v_limit - v_spent - v_held;
  IF v_free < p_need THEN
    RETURN QUERY SELECT false, v_period, 0::numeric, 0::numeric, v_status, v_subscribed, v_limit, v_spent, v_held;
    RETURN;
  END IF;
  SELECT count(*) INTO v_others FROM api_spend_leases l
    WHERE l.user_id = p_user AND l.period = v_period AND l.instance_id <> p_instance
      AND l.held_cents > 0 AND l.expires_at > now();
  -- Whole micro-cents (the columns' scale), rounded down so the sum never passes what is free.
  v_add := greatest(p_need, trunc(least(p_want, v_free / (v_others + 1)), 6));
  UPDATE api_spend s SET leased_cents = s.leased_cents + v_add, limit_cents = v_limit
    WHERE s.user_id = p_user AND s.period = v_period;
  INSERT INTO api_spend_leases AS l (user_id, period, instance_id, held_cents, expires_at)
  VALUES (p_user, v_period, p_instance, v_add, now() + make_interval(secs => p_ttl_seconds))
  ON CONFLICT (user_id, period, instance_id) DO UPDATE
    SET held_cents = l.held_cents + EXCLUDED.held_cents, expires_at = EXCLUDED.expires_at
  RETURNING l.held_cents INTO v_lease;
  RETURN QUERY SELECT true, v_period, v_add, v_lease, v_status, v_subscribed, v_limit, v_spent, v_held + v_add;
END $$;

-- Give back part of this process's leases (`p_amounts`, or all of a lease where it is NULL); an
-- emptied lease is deleted. Returns the total given back.
CREATE FUNCTION gateway_lease_return(
  p_instance TEXT, p_users TEXT[], p_periods DATE[], p_amounts NUMERIC[]
) RETURNS NUMERIC LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  r RECORD;
  v_held NUMERIC;
  v_back NUMERIC;
  v_total NUMERIC := 0;
BEGIN
  FOR r IN SELECT t.user_id, t.period, t.amount
           FROM unnest(p_users, p_periods, p_amounts) AS t(user_id, period, amount)
           ORDER BY t.user_id, t.period LOOP
    PERFORM 1 FROM api_spend s WHERE s.user_id = r.user_id AND s.period = r.period FOR UPDATE;
    SELECT l.held_cents INTO v_held FROM api_spend_leases l
      WHERE l.user_id = r.user_id AND l.period = r.period AND l.instance_id = p_instance;
    CONTINUE WHEN NOT FOUND;
    v_back := least(coalesce(r.amount, v_held), v_held);
    IF v_back >= v_held THEN
      DELETE FROM api_spend_leases l
        WHERE l.user_id = r.user_id AND l.period = r.period AND l.instance_id = p_instance;
    ELSE
      UPDATE api_spend_leases l SET held_cents = l.held_cents - v_back
        WHERE l.user_id = r.user_id AND l.period = r.period AND l.instance_id = p_instance;
    END IF;
    UPDATE api_spend s SET leased_cents = s.leased_cents - v_back
      WHERE s.user_id = r.user_id AND s.period = r.period;
    v_total := v_total + v_back;
  END LOOP;
  RETURN v_total;
END $$;

-- Give back every lease whose process stopped extending it (it crashed, or lost its database for
-- longer than the lease's time to live). Returns how many leases.
CREATE FUNCTION gateway_lease_expire() RETURNS INTEGER LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  r RECORD;
  v_held NUMERIC;
  v_count INTEGER := 0;
BEGIN
  FOR r IN SELECT l.user_id, l.period, l.instance_id FROM api_spend_leases l
           WHERE l.expires_at < now() ORDER BY l.user_id, l.period LOOP
    PERFORM 1 FROM api_spend s WHERE s.user_id = r.user_id AND s.period = r.period FOR UPDATE;
    -- Checked again under the lock: the owner may have extended it meanwhile.
    DELETE FROM api_spend_leases l
      WHERE l.user_id = r.user_id AND l.period = r.period AND l.instance_id = r.instance_id
        AND l.expires_at < now()
      RETURNING l.held_cents INTO v_held;
    CONTINUE WHEN NOT FOUND;
    UPDATE api_spend s SET leased_cents = s.leased_cents - v_held
      WHERE s.user_id = r.user_id AND s.period = r.period;
    v_count := v_count + 1;
  END LOOP;
  RETURN v_count;
END $$;
