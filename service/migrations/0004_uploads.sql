-- Tenant uploads: build output, Prisma schemas, migrations and preview data reach the deploy service
-- as uploads (never as host paths). Stored content-addressed per user: a user can reference only
-- their own uploads, by sha256; the same content uploaded twice is one row.
CREATE TABLE uploads (
  user_id TEXT NOT NULL,
  sha256 TEXT NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  kind TEXT NOT NULL CHECK (kind IN ('archive', 'file')),
  -- A single file keeps its (checked) name: the suffix tells a .sql dump from a .sqlite file.
  name TEXT NOT NULL,
  size BIGINT NOT NULL,
  files INTEGER NOT NULL,
  unpacked_bytes BIGINT NOT NULL,
  content BYTEA NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, sha256)
);
