package runtime

import "sync/atomic"

// Metrics are the runtime's counters since it started.
type Metrics struct {
	Turns                   int64 `json:"turns"`
	WarmTurns               int64 `json:"warm_turns"`
	ReplayedJobs            int64 `json:"replayed_jobs"`
	OrchestrationsStarted   int64 `json:"orchestrations_started"`
	OrchestrationsCompleted int64 `json:"orchestrations_completed"`
	OrchestrationsFailed    int64 `json:"orchestrations_failed"`
	ContinuedAsNew          int64 `json:"continued_as_new"`
	ActivitiesSucceeded     int64 `json:"activities_succeeded"`
	ActivitiesFailed        int64 `json:"activities_failed"`
	ActivitiesCancelled     int64 `json:"activities_cancelled"`
	Abandoned               int64 `json:"abandoned"`
	PoisonMessages          int64 `json:"poison_messages"`
	ProviderErrors          int64 `json:"provider_errors"`
	AckConflicts            int64 `json:"ack_conflicts"`
}

type counters struct {
	turns, warmTurns, replayedJobs                    atomic.Int64
	started, completed, failed, continuedAsNew        atomic.Int64
	actOK, actFailed, actCancelled, abandoned, poison atomic.Int64
	providerErrors, ackConflicts                      atomic.Int64
}

func (c *counters) snapshot() Metrics {
	return Metrics{
		Turns: c.turns.Load(), WarmTurns: c.warmTurns.Load(), ReplayedJobs: c.replayedJobs.Load(),
		OrchestrationsStarted: c.started.Load(), OrchestrationsCompleted: c.completed.Load(),
		OrchestrationsFailed: c.failed.Load(), ContinuedAsNew: c.continuedAsNew.Load(),
		ActivitiesSucceeded: c.actOK.Load(), ActivitiesFailed: c.actFailed.Load(), ActivitiesCancelled: c.actCancelled.Load(),
		Abandoned: c.abandoned.Load(), PoisonMessages: c.poison.Load(), ProviderErrors: c.providerErrors.Load(),
		AckConflicts: c.ackConflicts.Load(),
	}
}
