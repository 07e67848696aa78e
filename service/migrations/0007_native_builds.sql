-- Native builds (desktop, ios, android) of a deployed web app run through the same queue as deploys.
ALTER TABLE deployments DROP CONSTRAINT deployments_kind_check;
ALTER TABLE deployments ADD CONSTRAINT deployments_kind_check
  CHECK (kind IN ('web', 'database', 'migrate-data', 'domain', 'destroy', 'desktop', 'ios', 'android'));
