-- duroxide SQLite schema, version 1.
-- Times are Unix milliseconds. Work items and events are JSON (encoding/json
-- of history.WorkItem and history.Event).

CREATE TABLE IF NOT EXISTS instances (
    instance_id           TEXT PRIMARY KEY,
    orchestration_name    TEXT NOT NULL,
    orchestration_version TEXT NOT NULL DEFAULT '',
    current_execution_id  INTEGER NOT NULL DEFAULT 1,
    parent_instance_id    TEXT,
    custom_status         TEXT,
    custom_status_version INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_instances_parent ON instances(parent_instance_id);
CREATE INDEX IF NOT EXISTS idx_instances_created ON instances(created_at);

CREATE TABLE IF NOT EXISTS executions (
    instance_id   TEXT NOT NULL REFERENCES instances(instance_id),
    execution_id  INTEGER NOT NULL,
    status        TEXT NOT NULL DEFAULT 'Running',
    output        TEXT,
    started_at    INTEGER NOT NULL,
    completed_at  INTEGER,
    pinned_major  INTEGER,
    pinned_minor  INTEGER,
    pinned_patch  INTEGER,
    PRIMARY KEY (instance_id, execution_id)
);

CREATE TABLE IF NOT EXISTS history (
    instance_id  TEXT NOT NULL,
    execution_id INTEGER NOT NULL,
    event_id     INTEGER NOT NULL,
    event_type   TEXT NOT NULL,
    event_data   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (instance_id, execution_id, event_id),
    FOREIGN KEY (instance_id, execution_id) REFERENCES executions(instance_id, execution_id)
);

-- The orchestrator queue. A message belongs to the batch of the instance
-- lock whose token it carries; the lock itself lives in instance_locks.
-- While locked, a message has visible_at = the lock's locked_until, so a
-- batch whose lock expired is visible again.
CREATE TABLE IF NOT EXISTS orchestrator_queue (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    work_item     TEXT NOT NULL,
    visible_at    INTEGER NOT NULL,
    lock_token    TEXT,
    attempt_count INTEGER NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
    created_at    INTEGER NOT NULL
);
-- Candidate selection walks visible messages in (visible_at, id) order.
CREATE INDEX IF NOT EXISTS idx_orch_visible ON orchestrator_queue(visible_at, id);
CREATE INDEX IF NOT EXISTS idx_orch_instance ON orchestrator_queue(instance_id, visible_at);
CREATE INDEX IF NOT EXISTS idx_orch_lock ON orchestrator_queue(lock_token) WHERE lock_token IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_orch_created ON orchestrator_queue(created_at);

-- The worker queue. A locked row has visible_at = locked_until, so "visible"
-- alone decides whether a row may be fetched (an expired lock is visible).
CREATE TABLE IF NOT EXISTS worker_queue (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id   TEXT NOT NULL,
    execution_id  INTEGER NOT NULL,
    activity_id   INTEGER NOT NULL,
    session_id    TEXT,
    tag           TEXT,
    work_item     TEXT NOT NULL,
    visible_at    INTEGER NOT NULL,
    lock_token    TEXT,
    locked_until  INTEGER,
    attempt_count INTEGER NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
    created_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_worker_visible ON worker_queue(visible_at, id);
CREATE INDEX IF NOT EXISTS idx_worker_tag ON worker_queue(tag, visible_at, id);
CREATE INDEX IF NOT EXISTS idx_worker_activity ON worker_queue(instance_id, execution_id, activity_id);
CREATE INDEX IF NOT EXISTS idx_worker_session ON worker_queue(session_id) WHERE session_id IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS idx_worker_lock ON worker_queue(lock_token) WHERE lock_token IS NOT NULL;

CREATE TABLE IF NOT EXISTS instance_locks (
    instance_id  TEXT PRIMARY KEY,
    lock_token   TEXT NOT NULL UNIQUE,
    locked_until INTEGER NOT NULL,
    locked_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_instance_locks_until ON instance_locks(locked_until);

CREATE TABLE IF NOT EXISTS sessions (
    session_id       TEXT PRIMARY KEY,
    worker_id        TEXT NOT NULL,
    locked_until     INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_sessions_until ON sessions(locked_until);
CREATE INDEX IF NOT EXISTS idx_sessions_worker ON sessions(worker_id);

-- KV: kv_store is the state as of the last execution boundary (the fetch
-- snapshot); kv_delta holds the current execution's changes, NULL value =
-- tombstone. A terminal ack merges kv_delta into kv_store.
CREATE TABLE IF NOT EXISTS kv_store (
    instance_id        TEXT NOT NULL,
    key                TEXT NOT NULL,
    value              TEXT NOT NULL,
    last_updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (instance_id, key)
);

CREATE TABLE IF NOT EXISTS kv_delta (
    instance_id        TEXT NOT NULL,
    key                TEXT NOT NULL,
    value              TEXT,
    last_updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (instance_id, key)
);

-- Messages set aside instead of blocking a queue.
CREATE TABLE IF NOT EXISTS dead_letters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    queue       TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    work_item   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
