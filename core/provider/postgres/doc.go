// Package postgres is duroxide's scale-out store: a provider.Provider (with
// the Admin, SessionRenewer and Notifier capabilities) on a PostgreSQL
// database that any number of runtime processes on any number of machines
// share. PostgreSQL is the distributed engine; the store adds no
// coordination of its own.
//
//	store, err := postgres.Open(ctx, "postgres://user:pw@db:5432/app?sslmode=disable",
//		&postgres.Options{Schema: "tenant_a"})
//
// # Schema and migrations
//
// Each store lives in one schema (Options.Schema, default "public"), so
// many tenants or test runs share one database. Open creates the schema if
// needed and applies the embedded migrations it lacks, recorded in the
// schema's schema_version table, inside a transaction holding an advisory
// lock on the schema: processes opening at once apply each migration once.
// An up-to-date schema needs no DDL, so a role with only table privileges
// can open a schema that its owner migrated.
//
// # One round trip per operation
//
// The hot operations are PL/pgSQL functions created by the migrations:
// fetch_orchestration_item, ack_orchestration_item, fetch_work_item,
// ack_work_item and their abandon and renew companions. A fetch locks an
// instance, tags its batch and returns the messages, the history and the
// KV snapshot in one call; an ack checks the lock, appends the history,
// applies status, custom status and KV, enqueues work, removes cancelled
// activities and releases the lock in one call (arrays as arguments,
// never SQL text). Callers pass durations; every time the store compares
// comes from the database clock, so clock skew between machines cannot
// break leases. The exception is a durable timer's fire time, which the
// runtime that created the timer computes: its clock decides when the timer
// fires (TimerFired.FireAtMs becomes the message's visible_at).
//
// # Dequeues
//
// Fetches walk the queue in (visible_at, id) order on an index, taking the
// first eligible row FOR UPDATE SKIP LOCKED, so concurrent fetchers never
// queue behind each other and a fetch stays O(log n) however deep the
// queue is. An instance is locked with a row in instance_locks (a token and
// an expiry, renewed by the runtime while a turn runs); a try-lock on the
// instance id keeps two fetchers from taking one instance at once without
// either waiting. Locked batches hide until their lock expires, so they
// cost later fetches nothing. The queries are written so that their plans
// do not depend on parameter values (sub-queries fenced with OFFSET 0 stay
// per-row index probes), and the store's connections use
// plan_cache_mode=force_generic_plan (unless the DSN sets it): re-planning
// them on every call would cost more than running them. Transactions that
// only take or extend locks do not wait for their WAL flush (a lock lost in
// a crash is a redelivery); acks and enqueues do.
//
// # Wake-ups: LISTEN/NOTIFY
//
// After each commit that makes work visible, the store tells the other
// stores on the schema with NOTIFY on the channel "duroxide_<schema>": a
// small JSON payload with how many orchestrator and worker items became
// visible, the delays of delayed ones and the instances that changed.
// NOTIFY is sent after the commit by one goroutine per store that batches
// what accumulates meanwhile, in a transaction that does not wait for its
// own flush: PostgreSQL serialises the commits of notifying transactions,
// which would halve the commit rate if turns notified themselves. Each
// store keeps one dedicated LISTEN connection (reconnected when it drops)
// and wakes as many of its waiting fetchers as items were announced (a
// fetcher that sees more work behind its item wakes the next one), so an
// idle dispatcher picks up new work within milliseconds without polling,
// and a new message costs one query per process rather than one per idle
// fetcher. Delayed messages (timers) and expiring locks and sessions wake
// fetchers at their time. Every Options.PollInterval the store re-reads
// when its queues next change and wakes fetchers if visible work exists:
// the fallback for a missed notification (a process that died between
// commit and NOTIFY, a dropped LISTEN connection). With
// Options.DisableListen this is plain polling.
//
// The same notifications implement provider.Notifier across processes: a
// client waiting for an instance is woken by the runtime process that
// committed its turn.
//
// # Bad input and faults
//
// Errors are *provider.Error values. Connection failures, server shutdowns,
// serialization failures and deadlocks are retryable; constraint
// violations, lost locks (provider.ErrLockLost), permissions and bad input
// are permanent. When the server restarts, broken connections are dropped
// and replaced, in-flight calls fail with retryable errors, and the
// runtime's retries and lock expiry carry every instance on. Messages for
// an instance that does not exist and has no start message queued are
// skipped by fetches (they never block other instances) and, after
// Options.DeadLetterAfter, moved to the dead_letters table with the reason;
// a queue row that cannot be decoded is dead-lettered at once.
package postgres
