-- Pickup deadlines for activities (WorkItem.ExpiresAtMs): an item no worker
-- took before expires_at is failed by ExpireWorkItems.
ALTER TABLE worker_queue ADD COLUMN expires_at INTEGER;
CREATE INDEX IF NOT EXISTS idx_worker_expires ON worker_queue(expires_at) WHERE expires_at IS NOT NULL;
