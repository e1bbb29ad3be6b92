// The execution store's tables. Output is kept as chunks of lines (one row per batch written, the
// lines' bytes joined by newlines), not a row per line: a flood's second is one insert.

/** Bumped when the tables change; an older file is moved aside rather than misread. */
export const SCHEMA_VERSION = 1;

export const DATABASE_FILE = "executions.db";

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS executions (
  id TEXT PRIMARY KEY,
  owner_id TEXT NOT NULL,
  program TEXT NOT NULL,
  timeout_seconds REAL NOT NULL,
  started_at INTEGER NOT NULL,
  attached_at INTEGER,
  attached_probes INTEGER,
  ended_at INTEGER,
  status TEXT NOT NULL,
  exit_code INTEGER,
  exit_signal TEXT,
  error TEXT,
  lines_total INTEGER NOT NULL,
  first_available INTEGER NOT NULL,
  truncated_lines INTEGER NOT NULL,
  output_evicted INTEGER NOT NULL,
  maps TEXT NOT NULL,
  snapshots TEXT NOT NULL,
  server TEXT,
  updated_at INTEGER NOT NULL,
  stored_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS executions_by_owner ON executions (owner_id, started_at);
CREATE INDEX IF NOT EXISTS executions_by_start ON executions (started_at);
CREATE INDEX IF NOT EXISTS executions_running ON executions (server) WHERE status = 'running';
CREATE TABLE IF NOT EXISTS output (
  execution_id TEXT NOT NULL,
  first_line INTEGER NOT NULL,
  line_count INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  ends BLOB NOT NULL,
  stderr BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS output_by_execution ON output (execution_id, first_line);
CREATE TABLE IF NOT EXISTS sessions (
  owner_id TEXT NOT NULL,
  name TEXT NOT NULL,
  note TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  runs INTEGER NOT NULL,
  items TEXT NOT NULL,
  PRIMARY KEY (owner_id, name)
);
`;
