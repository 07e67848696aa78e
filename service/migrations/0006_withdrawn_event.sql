-- A failed web deploy withdraws its site (the last good deployment is served again, or the site
-- is taken down until a deploy succeeds); the progress stream says so with a `withdrawn` event.
ALTER TABLE deployment_events DROP CONSTRAINT deployment_events_kind_check;
ALTER TABLE deployment_events ADD CONSTRAINT deployment_events_kind_check
  CHECK (kind IN ('queued', 'started', 'steps', 'recovered', 'withdrawn', 'finished'));
