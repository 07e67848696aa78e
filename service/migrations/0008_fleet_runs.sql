-- Fleet operations as jobs (`oneclick drift --all --jobs`, `oneclick fleet up|refresh --jobs`): a run,
-- one row per stack (one job each, so every stack is covered exactly once whatever the workers do),
-- and each stack's result as the operation reports it (the CLI renders the report from these rows).
CREATE TABLE fleet_runs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  operation text NOT NULL CHECK (operation IN ('drift', 'preview', 'up', 'refresh')),
  refresh boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE fleet_run_stacks (
  run_id uuid NOT NULL REFERENCES fleet_runs (id) ON DELETE CASCADE,
  app_id text NOT NULL,
  position integer NOT NULL,
  job_id bigint,
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'done')),
  result jsonb,
  worker text,
  attempts integer NOT NULL DEFAULT 0,
  finished_at timestamptz,
  PRIMARY KEY (run_id, app_id)
);
