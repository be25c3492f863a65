package runtime

import (
	"log/slog"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// EngineVersion is this engine's version. It pins the executions it starts:
// a runtime only replays executions pinned at or below its own version
// (see Options.SupportedVersions).
const EngineVersion = "0.1.0"

// Options configure a Runtime. A nil *Options, and every zero field, means
// the default documented on the field.
type Options struct {
	// OrchestrationConcurrency is the number of turns run at once. Default
	// 4. Negative: this runtime runs no orchestrations (a worker-only node).
	OrchestrationConcurrency int
	// WorkerConcurrency is the number of activities run at once. Default
	// 16. Negative: this runtime runs no activities.
	WorkerConcurrency int
	// OrchestratorLockTimeout is how long a turn holds its instance before
	// another runtime may take it; renewed while the turn runs. Default 5 s.
	OrchestratorLockTimeout time.Duration
	// WorkerLockTimeout is how long an activity holds its work item;
	// renewed while it runs. Default 30 s.
	WorkerLockTimeout time.Duration
	// PollTimeout is how long an idle dispatcher waits in the store for
	// work before asking again (stores wake it earlier when work arrives).
	// Default 5 s.
	PollTimeout time.Duration
	// MaxAttempts is how many deliveries a message gets before it is
	// treated as poison and its instance fails; also how many times an
	// unregistered orchestration or activity is retried. Default 10.
	MaxAttempts int
	// UnregisteredBackoff is the first delay before an orchestration or
	// activity nobody registers is retried; it doubles up to
	// UnregisteredBackoffMax. Defaults 1 s and 60 s.
	UnregisteredBackoff    time.Duration
	UnregisteredBackoffMax time.Duration
	// ActivityCancellationGrace is how long a cancelled activity may keep
	// running before its worker slot moves on. Default 10 s.
	ActivityCancellationGrace time.Duration
	// InstanceCacheSize bounds the orchestrations kept warm between turns
	// (sticky execution). Default 1000; negative disables the cache.
	InstanceCacheSize int
	// Limits bound names, payloads, history, KV and custom status.
	Limits history.Limits
	// Logger receives runtime logs and orchestration logs. Nil discards them.
	Logger *slog.Logger
	// WorkerTagFilter selects the activity tags this runtime serves.
	// Default: untagged activities only.
	WorkerTagFilter provider.TagFilter
	// SupportedVersions bounds the pinned engine versions this runtime
	// replays. Default [0.0.0, EngineVersion].
	SupportedVersions *provider.VersionFilter
	// WorkerNodeID, when set, is the session owner id shared by all worker
	// slots of this runtime (a stable pod name): sessions survive a restart
	// of the process. Default: each slot owns its sessions.
	WorkerNodeID string
	// SessionLockTimeout is how long a session stays pinned to a worker
	// without a heartbeat. The runtime renews the sessions it holds while
	// they are in use. Default 30 s.
	SessionLockTimeout time.Duration
	// SessionIdleTimeout unpins a session that ran no activity for this
	// long: its next activity may go to any worker. It must exceed the
	// worker lock renewal interval. Default 5 min.
	SessionIdleTimeout time.Duration
	// SessionCleanupInterval is how often expired, unused sessions are
	// deleted from the store. Default 5 min.
	SessionCleanupInterval time.Duration
	// MaxSessionsPerRuntime bounds the distinct sessions this runtime runs
	// activities for at once; past it, workers take only session-less
	// activities. Default 10.
	MaxSessionsPerRuntime int
	// EngineVersion is the version this runtime pins new executions to and,
	// unless SupportedVersions says otherwise, the highest pinned version it
	// replays. Default the package's EngineVersion. Set it to rehearse a
	// rolling upgrade.
	EngineVersion string
	// TagSweepInterval is how often the runtime fails activities whose
	// pickup deadline (ActivityOptions.PickupTimeout) passed with no worker
	// taking them, when the store supports it. Default 1 s.
	TagSweepInterval time.Duration
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if r.OrchestrationConcurrency == 0 {
		r.OrchestrationConcurrency = 4
	}
	if r.WorkerConcurrency == 0 {
		r.WorkerConcurrency = 16
	}
	def(&r.OrchestratorLockTimeout, 5*time.Second)
	def(&r.WorkerLockTimeout, 30*time.Second)
	def(&r.PollTimeout, 5*time.Second)
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 10
	}
	def(&r.UnregisteredBackoff, time.Second)
	def(&r.UnregisteredBackoffMax, 60*time.Second)
	def(&r.ActivityCancellationGrace, 10*time.Second)
	if r.InstanceCacheSize == 0 {
		r.InstanceCacheSize = 1000
	}
	def(&r.SessionLockTimeout, 30*time.Second)
	def(&r.SessionIdleTimeout, 5*time.Minute)
	def(&r.SessionCleanupInterval, 5*time.Minute)
	if r.MaxSessionsPerRuntime <= 0 {
		r.MaxSessionsPerRuntime = 10
	}
	if r.EngineVersion == "" {
		r.EngineVersion = EngineVersion
	}
	def(&r.TagSweepInterval, time.Second)
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	r.Limits = r.Limits.WithDefaults()
	return r
}

// renewInterval is when a lock of the given timeout is renewed: a buffer
// before expiry for long locks, half-way for short ones.
func renewInterval(timeout time.Duration) time.Duration {
	if timeout >= 15*time.Second {
		return timeout - 5*time.Second
	}
	iv := timeout / 2
	if iv < 10*time.Millisecond {
		iv = 10 * time.Millisecond
	}
	return iv
}

// unregisteredDelay is the backoff before retrying an unregistered handler.
func (o *Options) unregisteredDelay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	n := attempt - 1
	if n > 16 {
		n = 16
	}
	d := o.UnregisteredBackoff << n
	if d > o.UnregisteredBackoffMax || d <= 0 {
		d = o.UnregisteredBackoffMax
	}
	return d
}
