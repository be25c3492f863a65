-- duroxide PostgreSQL schema, version 1.
--
-- Placeholders, replaced before the script runs (never from user input
-- other than a validated schema name):
--   __SCHEMA__   the quoted schema name, e.g. "duroxide"
--   __CHANNEL__  the NOTIFY channel as a string literal, e.g. 'duroxide_duroxide'
--   __LOCKNS__   the advisory-lock namespace of this schema (an int4 literal)
--
-- Every time the store compares is taken from the database clock
-- (clock_timestamp()); callers pass durations in milliseconds. The one
-- exception is TimerFired.FireAtMs, computed by the runtime that created the
-- timer: its clock decides when a timer fires.
--
-- Work items and events are stored as the JSON text the Go store encodes
-- (history.WorkItem, history.Event); the database never parses them.

CREATE TABLE IF NOT EXISTS __SCHEMA__.instances (
    instance_id           text PRIMARY KEY,
    orchestration_name    text NOT NULL,
    orchestration_version text NOT NULL DEFAULT '',
    current_execution_id  bigint NOT NULL DEFAULT 1,
    parent_instance_id    text,
    custom_status         text,
    custom_status_version bigint NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_parent_idx ON __SCHEMA__.instances (parent_instance_id);
CREATE INDEX IF NOT EXISTS instances_created_idx ON __SCHEMA__.instances (created_at);

CREATE TABLE IF NOT EXISTS __SCHEMA__.executions (
    instance_id  text NOT NULL,
    execution_id bigint NOT NULL,
    status       text NOT NULL DEFAULT 'Running',
    output       text,
    started_at   timestamptz NOT NULL,
    completed_at timestamptz,
    pinned_major integer,
    pinned_minor integer,
    pinned_patch integer,
    PRIMARY KEY (instance_id, execution_id)
);

CREATE TABLE IF NOT EXISTS __SCHEMA__.history (
    instance_id  text NOT NULL,
    execution_id bigint NOT NULL,
    event_id     bigint NOT NULL,
    event_type   text NOT NULL,
    event_data   text NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (instance_id, execution_id, event_id)
);

-- The orchestrator queue. A message belongs to the batch of the instance
-- lock whose token it carries; the lock itself lives in instance_locks.
-- While locked, a message has visible_at = the lock's locked_until, so a
-- batch whose lock expired is visible again and locked batches cost the
-- candidate scan nothing.
CREATE TABLE IF NOT EXISTS __SCHEMA__.orchestrator_queue (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id   text NOT NULL,
    kind          text NOT NULL,
    work_item     text NOT NULL,
    visible_at    timestamptz NOT NULL,
    lock_token    text,
    attempt_count integer NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
    created_at    timestamptz NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 200);
-- The fetch walks visible messages in (visible_at, id) order: an index seek.
CREATE INDEX IF NOT EXISTS orchestrator_queue_visible_idx ON __SCHEMA__.orchestrator_queue (visible_at, id);
CREATE INDEX IF NOT EXISTS orchestrator_queue_instance_idx ON __SCHEMA__.orchestrator_queue (instance_id, visible_at);
CREATE INDEX IF NOT EXISTS orchestrator_queue_lock_idx ON __SCHEMA__.orchestrator_queue (lock_token) WHERE lock_token IS NOT NULL;
CREATE INDEX IF NOT EXISTS orchestrator_queue_created_idx ON __SCHEMA__.orchestrator_queue (created_at);

-- The worker queue. A locked row has visible_at = locked_until, so
-- "visible" alone decides whether a row may be fetched (an expired lock is
-- visible). Untagged items, the common case, have their own index.
CREATE TABLE IF NOT EXISTS __SCHEMA__.worker_queue (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id   text NOT NULL,
    execution_id  bigint NOT NULL,
    activity_id   bigint NOT NULL,
    session_id    text,
    tag           text,
    work_item     text NOT NULL,
    visible_at    timestamptz NOT NULL,
    lock_token    text,
    locked_until  timestamptz,
    attempt_count integer NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
    created_at    timestamptz NOT NULL,
    -- The pickup deadline (WorkItem.ExpiresAtMs, from the runtime's clock):
    -- an item no worker took by then is failed by ExpireWorkItems.
    expires_at    timestamptz
) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 200);
CREATE INDEX IF NOT EXISTS worker_queue_visible_idx ON __SCHEMA__.worker_queue (visible_at, id);
CREATE INDEX IF NOT EXISTS worker_queue_untagged_idx ON __SCHEMA__.worker_queue (visible_at, id) WHERE tag IS NULL;
CREATE INDEX IF NOT EXISTS worker_queue_tag_idx ON __SCHEMA__.worker_queue (tag, visible_at, id) WHERE tag IS NOT NULL;
CREATE INDEX IF NOT EXISTS worker_queue_activity_idx ON __SCHEMA__.worker_queue (instance_id, execution_id, activity_id);
CREATE INDEX IF NOT EXISTS worker_queue_session_idx ON __SCHEMA__.worker_queue (session_id) WHERE session_id IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS worker_queue_lock_idx ON __SCHEMA__.worker_queue (lock_token) WHERE lock_token IS NOT NULL;
CREATE INDEX IF NOT EXISTS worker_queue_expires_idx ON __SCHEMA__.worker_queue (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS __SCHEMA__.instance_locks (
    instance_id  text PRIMARY KEY,
    lock_token   text NOT NULL UNIQUE,
    locked_until timestamptz NOT NULL,
    locked_at    timestamptz NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 200);
CREATE INDEX IF NOT EXISTS instance_locks_until_idx ON __SCHEMA__.instance_locks (locked_until);

CREATE TABLE IF NOT EXISTS __SCHEMA__.sessions (
    session_id       text PRIMARY KEY,
    worker_id        text NOT NULL,
    locked_until     timestamptz NOT NULL,
    last_activity_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_until_idx ON __SCHEMA__.sessions (locked_until);
CREATE INDEX IF NOT EXISTS sessions_worker_idx ON __SCHEMA__.sessions (worker_id);

-- KV: kv_store is the state as of the last execution boundary (the fetch
-- snapshot); kv_delta holds the current execution's changes, NULL value =
-- tombstone. A terminal ack merges kv_delta into kv_store.
CREATE TABLE IF NOT EXISTS __SCHEMA__.kv_store (
    instance_id        text NOT NULL,
    key                text NOT NULL,
    value              text NOT NULL,
    last_updated_at_ms bigint NOT NULL,
    PRIMARY KEY (instance_id, key)
);

CREATE TABLE IF NOT EXISTS __SCHEMA__.kv_delta (
    instance_id        text NOT NULL,
    key                text NOT NULL,
    value              text,
    last_updated_at_ms bigint NOT NULL,
    PRIMARY KEY (instance_id, key)
);

-- Messages set aside instead of blocking a queue.
CREATE TABLE IF NOT EXISTS __SCHEMA__.dead_letters (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue       text NOT NULL,
    instance_id text NOT NULL,
    work_item   text NOT NULL,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL
);

-- ms turns a duration in milliseconds into an interval.
CREATE OR REPLACE FUNCTION __SCHEMA__.ms(p bigint) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT p * interval '1 millisecond' $$;

-- epoch_ms is a time as Unix milliseconds.
CREATE OR REPLACE FUNCTION __SCHEMA__.epoch_ms(p timestamptz) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT floor(extract(epoch FROM p) * 1000)::bigint $$;

-- fetch_orchestration_item locks one instance that has visible messages and
-- no valid lock, tags its visible messages with p_token (counting an
-- attempt on each) and returns them with the current execution's history
-- and the KV snapshot, in one call. No row: nothing to fetch.
--
-- Concurrent fetchers never wait for each other: the candidate message is
-- taken FOR UPDATE SKIP LOCKED, the instance with a try-lock (an advisory
-- transaction lock on the instance id), and the instance lock row again
-- with SKIP LOCKED (an ack, abandon or renew holding it means the instance
-- is busy). "more" tells whether another instance is fetchable now, so
-- that the caller can wake another waiting fetcher.
CREATE OR REPLACE FUNCTION __SCHEMA__.fetch_orchestration_item(
    p_token text, p_lock_ms bigint, p_filter boolean,
    p_min_major integer, p_min_minor integer, p_min_patch integer,
    p_max_major integer, p_max_minor integer, p_max_patch integer)
RETURNS TABLE (
    instance_id text, is_new boolean, orchestration_name text, orchestration_version text,
    execution_id bigint, msg_ids bigint[], msg_data text[], attempt_count integer,
    hist_ids bigint[], hist_data text[], kv_keys text[], kv_values text[], kv_ts bigint[], more boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_now   timestamptz := clock_timestamp();
    v_until timestamptz := v_now + __SCHEMA__.ms(p_lock_ms);
    v_inst  text;
    v_skip  text[] := '{}';
    v_held  timestamptz;
    v_new   boolean;
    v_name  text;
    v_ver   text;
    v_exec  bigint;
    v_more  boolean;
BEGIN
    -- Only locks change (and attempt counts): a commit lost in a crash is a
    -- redelivery, so this transaction does not wait for its flush. The next
    -- synchronous commit (an ack) flushes it anyway.
    PERFORM set_config('synchronous_commit', 'off', true);
    FOR v_round IN 1..64 LOOP
        SELECT q.instance_id INTO v_inst
        FROM __SCHEMA__.orchestrator_queue q
        WHERE q.visible_at <= v_now
          AND q.instance_id <> ALL (v_skip)
          AND NOT EXISTS (SELECT 1 FROM __SCHEMA__.instance_locks l
                          WHERE l.instance_id = q.instance_id AND l.locked_until > v_now)
          AND (EXISTS (SELECT 1 FROM __SCHEMA__.instances i
                       LEFT JOIN __SCHEMA__.executions e
                         ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
                       WHERE i.instance_id = q.instance_id
                         AND (NOT p_filter OR e.pinned_major IS NULL
                              OR (e.pinned_major, e.pinned_minor, e.pinned_patch)
                                 BETWEEN (p_min_major, p_min_minor, p_min_patch) AND (p_max_major, p_max_minor, p_max_patch))
                       OFFSET 0)
               OR (NOT EXISTS (SELECT 1 FROM __SCHEMA__.instances i2 WHERE i2.instance_id = q.instance_id OFFSET 0)
                   AND EXISTS (SELECT 1 FROM __SCHEMA__.orchestrator_queue s
                               WHERE s.instance_id = q.instance_id AND s.visible_at <= v_now
                                 AND s.kind IN ('StartOrchestration', 'ContinueAsNew') OFFSET 0)))
        ORDER BY q.visible_at, q.id
        LIMIT 1
        FOR UPDATE OF q SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        v_skip := v_skip || v_inst;
        IF NOT pg_try_advisory_xact_lock(__LOCKNS__, hashtext(v_inst)) THEN
            CONTINUE; -- another fetcher is taking this instance
        END IF;
        -- Acks and abandons delete lock rows, so usually there is none. (No
        -- other fetcher inserts this instance's row: we hold its try-lock.)
        INSERT INTO __SCHEMA__.instance_locks AS l (instance_id, lock_token, locked_until, locked_at)
        VALUES (v_inst, p_token, v_until, v_now)
        ON CONFLICT ON CONSTRAINT instance_locks_pkey DO NOTHING;
        IF NOT FOUND THEN
            -- An expired lock (or one an ack, abandon or renew holds: skip it).
            SELECT l.locked_until INTO v_held FROM __SCHEMA__.instance_locks l
            WHERE l.instance_id = v_inst FOR UPDATE SKIP LOCKED;
            IF NOT FOUND OR v_held > v_now THEN
                CONTINUE;
            END IF;
            UPDATE __SCHEMA__.instance_locks l SET lock_token = p_token, locked_until = v_until, locked_at = v_now
            WHERE l.instance_id = v_inst;
        END IF;
        WITH tagged AS (
            UPDATE __SCHEMA__.orchestrator_queue q
            SET lock_token = p_token, attempt_count = q.attempt_count + 1, visible_at = v_until
            WHERE q.instance_id = v_inst AND q.visible_at <= v_now
            RETURNING q.id, q.work_item, q.attempt_count)
        SELECT array_agg(t.id ORDER BY t.id), array_agg(t.work_item ORDER BY t.id), max(t.attempt_count)
        INTO msg_ids, msg_data, attempt_count
        FROM tagged t;

        SELECT i.orchestration_name, i.orchestration_version, i.current_execution_id
        INTO v_name, v_ver, v_exec
        FROM __SCHEMA__.instances i WHERE i.instance_id = v_inst;
        v_new := NOT FOUND;

        -- Another fetchable instance? (Ordered like the candidate query, so
        -- that it stays an index walk on a deep queue.)
        PERFORM 1 FROM __SCHEMA__.orchestrator_queue q
        WHERE q.visible_at <= v_now
          AND NOT EXISTS (SELECT 1 FROM __SCHEMA__.instance_locks l
                          WHERE l.instance_id = q.instance_id AND l.locked_until > v_now)
          AND (EXISTS (SELECT 1 FROM __SCHEMA__.instances i WHERE i.instance_id = q.instance_id OFFSET 0)
               OR EXISTS (SELECT 1 FROM __SCHEMA__.orchestrator_queue s
                          WHERE s.instance_id = q.instance_id AND s.visible_at <= v_now
                            AND s.kind IN ('StartOrchestration', 'ContinueAsNew') OFFSET 0))
        ORDER BY q.visible_at, q.id
        LIMIT 1;
        v_more := FOUND;

        IF NOT v_new THEN
            SELECT array_agg(x.event_id ORDER BY x.event_id), array_agg(x.event_data ORDER BY x.event_id)
            INTO hist_ids, hist_data
            FROM __SCHEMA__.history x WHERE x.instance_id = v_inst AND x.execution_id = v_exec;
        END IF;
        SELECT array_agg(s.key), array_agg(s.value), array_agg(s.last_updated_at_ms)
        INTO kv_keys, kv_values, kv_ts
        FROM __SCHEMA__.kv_store s WHERE s.instance_id = v_inst;
        instance_id := v_inst;
        is_new := v_new;
        orchestration_name := v_name;
        orchestration_version := v_ver;
        execution_id := v_exec;
        more := v_more;
        RETURN NEXT;
        RETURN;
    END LOOP;
END
$$;

-- release_orchestration_item gives a fetched batch back (its messages
-- visible now, the attempt returned) without checking the lock's time: for
-- a fetch whose caller could not use the batch.
CREATE OR REPLACE FUNCTION __SCHEMA__.release_orchestration_item(p_token text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Only locks change (and attempt counts): a commit lost in a crash is a
    -- redelivery, so this transaction does not wait for its flush. The next
    -- synchronous commit (an ack) flushes it anyway.
    PERFORM set_config('synchronous_commit', 'off', true);
    UPDATE __SCHEMA__.orchestrator_queue q
    SET lock_token = NULL, visible_at = clock_timestamp(), attempt_count = GREATEST(q.attempt_count - 1, 0)
    WHERE q.lock_token = p_token;
    DELETE FROM __SCHEMA__.instance_locks l WHERE l.lock_token = p_token;
END
$$;

-- dead_letter_messages moves queue rows that could not be decoded to
-- dead_letters with their reasons.
CREATE OR REPLACE FUNCTION __SCHEMA__.dead_letter_messages(p_queue text, p_ids bigint[], p_reasons text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_queue = 'orchestrator' THEN
        WITH gone AS (
            DELETE FROM __SCHEMA__.orchestrator_queue q WHERE q.id = ANY (p_ids)
            RETURNING q.id, q.instance_id, q.work_item)
        INSERT INTO __SCHEMA__.dead_letters (queue, instance_id, work_item, reason, created_at)
        SELECT p_queue, g.instance_id, g.work_item, r.reason, clock_timestamp()
        FROM gone g JOIN unnest(p_ids, p_reasons) AS r(id, reason) ON r.id = g.id
        ORDER BY g.id;
    ELSE
        WITH gone AS (
            DELETE FROM __SCHEMA__.worker_queue q WHERE q.id = ANY (p_ids)
            RETURNING q.id, q.instance_id, q.work_item)
        INSERT INTO __SCHEMA__.dead_letters (queue, instance_id, work_item, reason, created_at)
        SELECT p_queue, g.instance_id, g.work_item, r.reason, clock_timestamp()
        FROM gone g JOIN unnest(p_ids, p_reasons) AS r(id, reason) ON r.id = g.id
        ORDER BY g.id;
    END IF;
END
$$;

-- ack_orchestration_item commits a turn: everything or nothing. Lost locks
-- raise SQLSTATE DXLCK, refused arguments DXBAD. It returns the instance,
-- the database time (Unix ms) and whether the instance has visible
-- messages left for its next turn.
CREATE OR REPLACE FUNCTION __SCHEMA__.ack_orchestration_item(
    p_token text, p_exec bigint,
    p_ev_ids bigint[], p_ev_kinds text[], p_ev_data text[],
    p_w_inst text[], p_w_exec bigint[], p_w_act bigint[], p_w_session text[], p_w_tag text[], p_w_data text[],
    p_w_expires_ms bigint[],
    p_o_inst text[], p_o_kind text[], p_o_data text[], p_o_fire_ms bigint[],
    p_status text, p_output text, p_name text, p_version text, p_parent text, p_pinned integer[],
    p_cs_set boolean, p_cs text,
    p_kv_kind text[], p_kv_key text[], p_kv_value text[], p_kv_ts bigint[],
    p_c_inst text[], p_c_exec bigint[], p_c_act bigint[])
RETURNS TABLE (instance_id text, now_ms bigint, pending boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_now    timestamptz := clock_timestamp();
    v_inst   text;
    v_until  timestamptz;
    v_exists boolean;
    v_ts     bigint;
BEGIN
    -- Taking the lock row out first serialises concurrent acks of one
    -- token: the others find it gone. A failed check below rolls it back.
    DELETE FROM __SCHEMA__.instance_locks l WHERE l.lock_token = p_token
    RETURNING l.instance_id, l.locked_until INTO v_inst, v_until;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lock token is unknown or was released' USING ERRCODE = 'DXLCK';
    END IF;
    IF v_until <= v_now THEN
        RAISE EXCEPTION 'instance lock expired' USING ERRCODE = 'DXLCK', DETAIL = v_inst;
    END IF;

    DELETE FROM __SCHEMA__.orchestrator_queue q WHERE q.lock_token = p_token AND q.instance_id = v_inst;

    -- The instance row: created by the first ack that names the
    -- orchestration (the parent link is set then, never changed); every
    -- ack moves the current execution forward and applies the turn's last
    -- custom status.
    IF p_name <> '' THEN
        INSERT INTO __SCHEMA__.instances AS i (instance_id, orchestration_name, orchestration_version,
            current_execution_id, parent_instance_id, custom_status, custom_status_version, created_at, updated_at)
        VALUES (v_inst, p_name, p_version, p_exec, NULLIF(p_parent, ''),
                CASE WHEN p_cs_set THEN p_cs END, CASE WHEN p_cs_set THEN 1 ELSE 0 END, v_now, v_now)
        ON CONFLICT ON CONSTRAINT instances_pkey DO UPDATE
        SET orchestration_name = EXCLUDED.orchestration_name, orchestration_version = EXCLUDED.orchestration_version,
            current_execution_id = GREATEST(i.current_execution_id, p_exec), updated_at = v_now,
            custom_status = CASE WHEN p_cs_set THEN p_cs ELSE i.custom_status END,
            custom_status_version = i.custom_status_version + CASE WHEN p_cs_set THEN 1 ELSE 0 END;
        v_exists := true;
    ELSE
        UPDATE __SCHEMA__.instances i
        SET current_execution_id = GREATEST(i.current_execution_id, p_exec), updated_at = v_now,
            custom_status = CASE WHEN p_cs_set THEN p_cs ELSE i.custom_status END,
            custom_status_version = i.custom_status_version + CASE WHEN p_cs_set THEN 1 ELSE 0 END
        WHERE i.instance_id = v_inst;
        v_exists := FOUND;
    END IF;

    IF NOT v_exists THEN
        IF coalesce(cardinality(p_ev_ids), 0) > 0 OR p_status <> '' OR p_pinned IS NOT NULL THEN
            RAISE EXCEPTION 'instance % does not exist and the metadata names no orchestration to create it',
                quote_literal(v_inst) USING ERRCODE = 'DXBAD';
        END IF;
    ELSE
        INSERT INTO __SCHEMA__.executions AS e (instance_id, execution_id, status, started_at)
        VALUES (v_inst, p_exec, 'Running', v_now)
        ON CONFLICT ON CONSTRAINT executions_pkey DO NOTHING;
        IF p_pinned IS NOT NULL OR p_status <> '' THEN
            UPDATE __SCHEMA__.executions e
            SET pinned_major = CASE WHEN p_pinned IS NOT NULL THEN p_pinned[1] ELSE e.pinned_major END,
                pinned_minor = CASE WHEN p_pinned IS NOT NULL THEN p_pinned[2] ELSE e.pinned_minor END,
                pinned_patch = CASE WHEN p_pinned IS NOT NULL THEN p_pinned[3] ELSE e.pinned_patch END,
                status = CASE WHEN p_status <> '' THEN p_status ELSE e.status END,
                output = CASE WHEN p_status <> '' THEN p_output ELSE e.output END,
                completed_at = CASE WHEN p_status = '' THEN e.completed_at WHEN p_status <> 'Running' THEN v_now END
            WHERE e.instance_id = v_inst AND e.execution_id = p_exec;
        END IF;

        INSERT INTO __SCHEMA__.history (instance_id, execution_id, event_id, event_type, event_data, created_at)
        SELECT v_inst, p_exec, u.id, u.kind, u.data, v_now
        FROM unnest(p_ev_ids, p_ev_kinds, p_ev_data) AS u(id, kind, data);

        FOR n IN 1 .. coalesce(cardinality(p_kv_kind), 0) LOOP
            v_ts := CASE WHEN p_kv_ts[n] = 0 THEN __SCHEMA__.epoch_ms(v_now) ELSE p_kv_ts[n] END;
            IF p_kv_kind[n] = 'KeyValueSet' THEN
                INSERT INTO __SCHEMA__.kv_delta AS d (instance_id, key, value, last_updated_at_ms)
                VALUES (v_inst, p_kv_key[n], p_kv_value[n], v_ts)
                ON CONFLICT ON CONSTRAINT kv_delta_pkey DO UPDATE
                SET value = EXCLUDED.value, last_updated_at_ms = EXCLUDED.last_updated_at_ms;
            ELSIF p_kv_kind[n] = 'KeyValueCleared' THEN
                INSERT INTO __SCHEMA__.kv_delta AS d (instance_id, key, value, last_updated_at_ms)
                VALUES (v_inst, p_kv_key[n], NULL, v_ts)
                ON CONFLICT ON CONSTRAINT kv_delta_pkey DO UPDATE
                SET value = NULL, last_updated_at_ms = EXCLUDED.last_updated_at_ms;
            ELSIF p_kv_kind[n] = 'KeyValuesCleared' THEN
                UPDATE __SCHEMA__.kv_delta d SET value = NULL, last_updated_at_ms = v_ts WHERE d.instance_id = v_inst;
                INSERT INTO __SCHEMA__.kv_delta AS d (instance_id, key, value, last_updated_at_ms)
                SELECT s.instance_id, s.key, NULL, v_ts FROM __SCHEMA__.kv_store s WHERE s.instance_id = v_inst
                ON CONFLICT ON CONSTRAINT kv_delta_pkey DO UPDATE
                SET value = NULL, last_updated_at_ms = EXCLUDED.last_updated_at_ms;
            ELSE
                RAISE EXCEPTION 'unknown KV operation %', quote_literal(p_kv_kind[n]) USING ERRCODE = 'DXBAD';
            END IF;
        END LOOP;

        IF p_status IN ('Completed', 'Failed', 'ContinuedAsNew') THEN
            -- An execution boundary: the delta becomes the snapshot.
            DELETE FROM __SCHEMA__.kv_store s
            WHERE s.instance_id = v_inst
              AND s.key IN (SELECT d.key FROM __SCHEMA__.kv_delta d WHERE d.instance_id = v_inst AND d.value IS NULL);
            INSERT INTO __SCHEMA__.kv_store AS s (instance_id, key, value, last_updated_at_ms)
            SELECT d.instance_id, d.key, d.value, d.last_updated_at_ms
            FROM __SCHEMA__.kv_delta d WHERE d.instance_id = v_inst AND d.value IS NOT NULL
            ON CONFLICT ON CONSTRAINT kv_store_pkey DO UPDATE
            SET value = EXCLUDED.value, last_updated_at_ms = EXCLUDED.last_updated_at_ms;
            DELETE FROM __SCHEMA__.kv_delta d WHERE d.instance_id = v_inst;
        END IF;
    END IF;

    INSERT INTO __SCHEMA__.worker_queue (instance_id, execution_id, activity_id, session_id, tag, work_item,
        visible_at, attempt_count, created_at, expires_at)
    SELECT u.inst, u.exec, u.act, NULLIF(u.sess, ''), NULLIF(u.tag, ''), u.data, v_now, 0, v_now,
           CASE WHEN u.expires > 0 THEN to_timestamp(u.expires / 1000.0) END
    FROM unnest(p_w_inst, p_w_exec, p_w_act, p_w_session, p_w_tag, p_w_data, p_w_expires_ms) WITH ORDINALITY
         AS u(inst, exec, act, sess, tag, data, expires, ord)
    ORDER BY u.ord;

    -- After the inserts, so that an activity scheduled and cancelled in the
    -- same turn leaves no row.
    DELETE FROM __SCHEMA__.worker_queue w
    USING unnest(p_c_inst, p_c_exec, p_c_act) AS c(inst, exec, act)
    WHERE w.instance_id = c.inst AND w.execution_id = c.exec AND w.activity_id = c.act;

    INSERT INTO __SCHEMA__.orchestrator_queue (instance_id, kind, work_item, visible_at, attempt_count, created_at)
    SELECT u.inst, u.kind, u.data,
           CASE WHEN u.fire > 0 THEN to_timestamp(u.fire / 1000.0) ELSE v_now END, 0, v_now
    FROM unnest(p_o_inst, p_o_kind, p_o_data, p_o_fire_ms) WITH ORDINALITY AS u(inst, kind, data, fire, ord)
    ORDER BY u.ord;

    -- The lock must still be held at commit time.
    IF v_until <= clock_timestamp() THEN
        RAISE EXCEPTION 'instance lock expired during the ack' USING ERRCODE = 'DXLCK', DETAIL = v_inst;
    END IF;

    instance_id := v_inst;
    now_ms := floor(extract(epoch FROM v_now) * 1000)::bigint;
    pending := EXISTS (SELECT 1 FROM __SCHEMA__.orchestrator_queue q WHERE q.instance_id = v_inst AND q.visible_at <= v_now);
    RETURN NEXT;
END
$$;

-- abandon_orchestration_item releases a held lock without committing; the
-- batch becomes visible after p_delay_ms.
CREATE OR REPLACE FUNCTION __SCHEMA__.abandon_orchestration_item(p_token text, p_delay_ms bigint, p_ignore_attempt boolean)
RETURNS text
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_now   timestamptz := clock_timestamp();
    v_inst  text;
    v_until timestamptz;
BEGIN
    -- Only locks change (and attempt counts): a commit lost in a crash is a
    -- redelivery, so this transaction does not wait for its flush. The next
    -- synchronous commit (an ack) flushes it anyway.
    PERFORM set_config('synchronous_commit', 'off', true);
    SELECT l.instance_id, l.locked_until INTO v_inst, v_until
    FROM __SCHEMA__.instance_locks l WHERE l.lock_token = p_token FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lock token is unknown or was released' USING ERRCODE = 'DXLCK';
    END IF;
    IF v_until <= v_now THEN
        RAISE EXCEPTION 'instance lock expired' USING ERRCODE = 'DXLCK', DETAIL = v_inst;
    END IF;
    UPDATE __SCHEMA__.orchestrator_queue q
    SET lock_token = NULL, visible_at = v_now + __SCHEMA__.ms(p_delay_ms),
        attempt_count = CASE WHEN p_ignore_attempt THEN GREATEST(q.attempt_count - 1, 0) ELSE q.attempt_count END
    WHERE q.lock_token = p_token;
    DELETE FROM __SCHEMA__.instance_locks l WHERE l.lock_token = p_token;
    RETURN v_inst;
END
$$;

-- renew_orchestration_item_lock extends a held lock; false if it is no
-- longer held.
CREATE OR REPLACE FUNCTION __SCHEMA__.renew_orchestration_item_lock(p_token text, p_extend_ms bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_now   timestamptz := clock_timestamp();
    v_until timestamptz := v_now + __SCHEMA__.ms(p_extend_ms);
BEGIN
    -- Only locks change (and attempt counts): a commit lost in a crash is a
    -- redelivery, so this transaction does not wait for its flush. The next
    -- synchronous commit (an ack) flushes it anyway.
    PERFORM set_config('synchronous_commit', 'off', true);
    UPDATE __SCHEMA__.instance_locks l SET locked_until = v_until
    WHERE l.lock_token = p_token AND l.locked_until > v_now;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE __SCHEMA__.orchestrator_queue q SET visible_at = v_until WHERE q.lock_token = p_token;
    RETURN true;
END
$$;

-- fetch_work_item locks one visible worker item that the tag filter
-- (p_mode: 0 untagged only, 1 only p_tags, 2 untagged and p_tags, 3 any)
-- and the session rules allow, in (visible_at, id) order, claiming its
-- session for p_owner when it has one (p_owner NULL: items without a
-- session only). Untagged items are an ordered seek on their own index;
-- each tag is one on the tag index (planned with the tag's value, so that
-- a rare tag behind a deep queue of others is still a seek). Each branch
-- looks at two candidates: "more" tells whether there was another, so that
-- the caller can wake another waiting fetcher.
CREATE OR REPLACE FUNCTION __SCHEMA__.fetch_work_item(
    p_token text, p_lock_ms bigint, p_owner text, p_session_ms bigint, p_mode integer, p_tags text[])
RETURNS TABLE (id bigint, instance_id text, session_id text, work_item text, attempt_count integer, more boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_now       timestamptz := clock_timestamp();
    v_until     timestamptz := v_now + __SCHEMA__.ms(p_lock_ms);
    v_skip_sess text[] := '{}';
    v_branches  text[];
    v_tag       text;
    v_id        bigint;
    v_vis       timestamptz;
    v_sess      text;
    v_seen      integer;
    c           record;
    v_att       integer;
BEGIN
    -- Only locks change (and attempt counts, session claims): a commit lost
    -- in a crash is a redelivery, so this transaction does not wait for its
    -- flush. The next synchronous commit (an ack) flushes it anyway.
    PERFORM set_config('synchronous_commit', 'off', true);
    -- Branches: NULL stands for "untagged", '*' for "any tag".
    IF p_mode = 3 THEN
        v_branches := ARRAY['*'];
    ELSE
        v_branches := '{}';
        IF p_mode IN (0, 2) THEN
            v_branches := ARRAY[NULL::text];
        END IF;
        IF p_mode IN (1, 2) THEN
            v_branches := v_branches || ARRAY(SELECT DISTINCT t FROM unnest(p_tags) AS t WHERE t <> '' ORDER BY t);
        END IF;
    END IF;

    FOR v_round IN 1..64 LOOP
        v_id := NULL;
        v_seen := 0;
        FOREACH v_tag IN ARRAY v_branches LOOP
            IF v_tag IS NULL THEN
                FOR c IN
                    SELECT q.id, q.visible_at, q.session_id
                    FROM __SCHEMA__.worker_queue q
                    LEFT JOIN __SCHEMA__.sessions s ON s.session_id = q.session_id
                    WHERE q.visible_at <= v_now AND q.tag IS NULL
                      AND (q.session_id IS NULL
                           OR (p_owner IS NOT NULL AND q.session_id <> ALL (v_skip_sess)
                               AND (s.session_id IS NULL OR s.worker_id = p_owner OR s.locked_until <= v_now)))
                    ORDER BY q.visible_at, q.id
                    LIMIT 2
                    FOR UPDATE OF q SKIP LOCKED
                LOOP
                    v_seen := v_seen + 1;
                    IF v_id IS NULL OR (c.visible_at, c.id) < (v_vis, v_id) THEN
                        v_id := c.id; v_vis := c.visible_at; v_sess := c.session_id;
                    END IF;
                END LOOP;
            ELSIF v_tag = '*' THEN
                FOR c IN
                    SELECT q.id, q.visible_at, q.session_id
                    FROM __SCHEMA__.worker_queue q
                    LEFT JOIN __SCHEMA__.sessions s ON s.session_id = q.session_id
                    WHERE q.visible_at <= v_now
                      AND (q.session_id IS NULL
                           OR (p_owner IS NOT NULL AND q.session_id <> ALL (v_skip_sess)
                               AND (s.session_id IS NULL OR s.worker_id = p_owner OR s.locked_until <= v_now)))
                    ORDER BY q.visible_at, q.id
                    LIMIT 2
                    FOR UPDATE OF q SKIP LOCKED
                LOOP
                    v_seen := v_seen + 1;
                    IF v_id IS NULL OR (c.visible_at, c.id) < (v_vis, v_id) THEN
                        v_id := c.id; v_vis := c.visible_at; v_sess := c.session_id;
                    END IF;
                END LOOP;
            ELSE
                FOR c IN EXECUTE
                    'SELECT q.id, q.visible_at, q.session_id
                     FROM __SCHEMA__.worker_queue q
                     LEFT JOIN __SCHEMA__.sessions s ON s.session_id = q.session_id
                     WHERE q.tag = $1 AND q.visible_at <= $2
                       AND (q.session_id IS NULL
                            OR ($3 IS NOT NULL AND q.session_id <> ALL ($4)
                                AND (s.session_id IS NULL OR s.worker_id = $3 OR s.locked_until <= $2)))
                     ORDER BY q.tag, q.visible_at, q.id
                     LIMIT 2
                     FOR UPDATE OF q SKIP LOCKED'
                    USING v_tag, v_now, p_owner, v_skip_sess
                LOOP
                    v_seen := v_seen + 1;
                    IF v_id IS NULL OR (c.visible_at, c.id) < (v_vis, v_id) THEN
                        v_id := c.id; v_vis := c.visible_at; v_sess := c.session_id;
                    END IF;
                END LOOP;
            END IF;
        END LOOP;
        IF v_id IS NULL THEN
            RETURN;
        END IF;

        IF v_sess IS NOT NULL THEN
            -- Claim the session, or keep it: only if it is free, expired or ours.
            INSERT INTO __SCHEMA__.sessions AS s (session_id, worker_id, locked_until, last_activity_at)
            VALUES (v_sess, p_owner, v_now + __SCHEMA__.ms(p_session_ms), v_now)
            ON CONFLICT ON CONSTRAINT sessions_pkey DO UPDATE
            SET worker_id = EXCLUDED.worker_id,
                locked_until = CASE WHEN s.worker_id = EXCLUDED.worker_id
                                    THEN GREATEST(s.locked_until, EXCLUDED.locked_until)
                                    ELSE EXCLUDED.locked_until END,
                last_activity_at = EXCLUDED.last_activity_at
            WHERE s.worker_id = EXCLUDED.worker_id OR s.locked_until <= v_now;
            IF NOT FOUND THEN
                v_skip_sess := v_skip_sess || v_sess; -- another owner claimed it meanwhile
                CONTINUE;
            END IF;
        END IF;

        UPDATE __SCHEMA__.worker_queue q
        SET lock_token = p_token, locked_until = v_until, visible_at = v_until, attempt_count = q.attempt_count + 1
        WHERE q.id = v_id
        RETURNING q.attempt_count INTO v_att;

        RETURN QUERY SELECT q.id, q.instance_id, q.session_id, q.work_item, v_att, v_seen > 1
        FROM __SCHEMA__.worker_queue q WHERE q.id = v_id;
        RETURN;
    END LOOP;
END
$$;

-- ack_work_item deletes a locked worker item and enqueues its completion
-- (when p_kind is not empty), atomically; DXLCK when the item is gone or
-- its lock expired.
CREATE OR REPLACE FUNCTION __SCHEMA__.ack_work_item(p_token text, p_inst text, p_kind text, p_data text)
RETURNS TABLE (instance_id text, now_ms bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_now   timestamptz := clock_timestamp();
    v_id    bigint;
    v_inst  text;
    v_sess  text;
    v_until timestamptz;
BEGIN
    DELETE FROM __SCHEMA__.worker_queue q WHERE q.lock_token = p_token
    RETURNING q.id, q.instance_id, q.session_id, q.locked_until INTO v_id, v_inst, v_sess, v_until;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'work item is gone (cancelled, acked or taken by another worker)' USING ERRCODE = 'DXLCK';
    END IF;
    IF v_until <= v_now THEN
        RAISE EXCEPTION 'work item lock expired' USING ERRCODE = 'DXLCK', DETAIL = v_inst;
    END IF;
    IF p_kind <> '' THEN
        INSERT INTO __SCHEMA__.orchestrator_queue (instance_id, kind, work_item, visible_at, attempt_count, created_at)
        VALUES (p_inst, p_kind, p_data, v_now, 0, v_now);
    END IF;
    IF v_sess IS NOT NULL THEN
        UPDATE __SCHEMA__.sessions s SET last_activity_at = v_now WHERE s.session_id = v_sess;
    END IF;
    instance_id := v_inst;
    now_ms := floor(extract(epoch FROM v_now) * 1000)::bigint;
    RETURN NEXT;
END
$$;

-- renew_work_item_lock extends a held worker lock (and marks its session
-- active); NULL when the item is gone or its lock expired.
CREATE OR REPLACE FUNCTION __SCHEMA__.renew_work_item_lock(p_token text, p_extend_ms bigint)
RETURNS text
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_now   timestamptz := clock_timestamp();
    v_until timestamptz := v_now + __SCHEMA__.ms(p_extend_ms);
    v_inst  text;
    v_sess  text;
BEGIN
    -- Only locks change (and attempt counts): a commit lost in a crash is a
    -- redelivery, so this transaction does not wait for its flush. The next
    -- synchronous commit (an ack) flushes it anyway.
    PERFORM set_config('synchronous_commit', 'off', true);
    UPDATE __SCHEMA__.worker_queue q SET locked_until = v_until, visible_at = v_until
    WHERE q.lock_token = p_token AND q.locked_until > v_now
    RETURNING q.instance_id, q.session_id INTO v_inst, v_sess;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v_sess IS NOT NULL THEN
        UPDATE __SCHEMA__.sessions s SET last_activity_at = v_now WHERE s.session_id = v_sess;
    END IF;
    RETURN v_inst;
END
$$;

-- sweep_orphans dead-letters messages for instances that do not exist,
-- have no start message queued and no valid lock, once they are older than
-- p_after_ms; it returns the instances concerned.
CREATE OR REPLACE FUNCTION __SCHEMA__.sweep_orphans(p_after_ms bigint, p_after_text text)
RETURNS TABLE (instance_id text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz := clock_timestamp();
BEGIN
    RETURN QUERY
    WITH victims AS (
        SELECT q.id FROM __SCHEMA__.orchestrator_queue q
        WHERE q.created_at <= v_now - __SCHEMA__.ms(p_after_ms)
          AND NOT EXISTS (SELECT 1 FROM __SCHEMA__.instances i WHERE i.instance_id = q.instance_id OFFSET 0)
          AND NOT EXISTS (SELECT 1 FROM __SCHEMA__.orchestrator_queue s WHERE s.instance_id = q.instance_id
                          AND s.kind IN ('StartOrchestration', 'ContinueAsNew') OFFSET 0)
          AND NOT EXISTS (SELECT 1 FROM __SCHEMA__.instance_locks l WHERE l.instance_id = q.instance_id
                          AND l.locked_until > v_now OFFSET 0)
        ORDER BY q.id
        LIMIT 500
        FOR UPDATE OF q SKIP LOCKED),
    gone AS (
        DELETE FROM __SCHEMA__.orchestrator_queue q USING victims v WHERE q.id = v.id
        RETURNING q.id, q.instance_id, q.work_item),
    moved AS (
        INSERT INTO __SCHEMA__.dead_letters (queue, instance_id, work_item, reason, created_at)
        SELECT 'orchestrator', g.instance_id, g.work_item,
               format('no instance %L exists and no start message arrived within %s', g.instance_id, p_after_text),
               v_now
        FROM gone g ORDER BY g.id
        RETURNING dead_letters.instance_id)
    SELECT m.instance_id FROM moved m;
END
$$;

-- notify sends wake-up payloads on the store's channel. Notifications are
-- hints (a lost one costs a poll interval), so the transaction that sends
-- them does not wait for its commit to be flushed.
CREATE OR REPLACE FUNCTION __SCHEMA__.notify(p_payloads text[]) RETURNS void
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    p text;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    FOREACH p IN ARRAY p_payloads LOOP
        PERFORM pg_notify(__CHANNEL__, p);
    END LOOP;
END
$$;
