package orchestration

import (
	"math"
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	cases := []struct {
		name    string
		b       Backoff
		attempt int
		want    time.Duration
	}{
		{"none", NoBackoff(), 3, 0},
		{"fixed", FixedBackoff(50 * time.Millisecond), 7, 50 * time.Millisecond},
		{"linear", LinearBackoff(100*time.Millisecond, time.Second), 3, 300 * time.Millisecond},
		{"linear capped", LinearBackoff(100*time.Millisecond, time.Second), 30, time.Second},
		{"exponential first", ExponentialBackoff(100*time.Millisecond, 2, time.Minute), 1, 100 * time.Millisecond},
		{"exponential third", ExponentialBackoff(100*time.Millisecond, 3, time.Minute), 3, 900 * time.Millisecond},
		{"exponential capped", ExponentialBackoff(100*time.Millisecond, 2, 30*time.Second), 40, 30 * time.Second},
		{"exponential default multiplier", Backoff{Kind: BackoffExponential, Base: time.Second}, 3, 4 * time.Second},
		{"exponential no cap overflows safely", Backoff{Kind: BackoffExponential, Base: time.Hour, Multiplier: 10}, 100, time.Duration(math.MaxInt64)},
		{"attempt zero treated as first", FixedBackoff(time.Second), 0, time.Second},
	}
	for _, c := range cases {
		if got := c.b.Delay(c.attempt); got != c.want {
			t.Errorf("%s: Delay(%d) = %v, want %v", c.name, c.attempt, got, c.want)
		}
	}
}

func TestDefaultRetryPolicy(t *testing.T) {
	p := DefaultRetryPolicy()
	if p.MaxAttempts != 3 || p.Backoff.Delay(1) != 100*time.Millisecond || p.Backoff.Delay(20) != 30*time.Second {
		t.Fatalf("default policy %+v", p)
	}
}
