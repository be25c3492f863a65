package history

import "testing"

func TestDisplayMessage(t *testing.T) {
	cases := []struct {
		d    *ErrorDetails
		want string
	}{
		{nil, ""},
		{AppError(KindActivityFailed, "boom"), "boom"},
		{Cancelled("user_request"), "canceled: user_request"},
		{&ErrorDetails{Category: CategoryApplication, Kind: KindPanicked, Message: "x"}, "orchestration panicked: x"},
		{Infrastructure("ack", "disk full", false), "infrastructure:ack: disk full"},
		{Nondeterminism("m"), "nondeterministic: m"},
		{Poison(KindPoisonActivity, "activity A#2", 11, 10, "crashed"), "poison: activity A#2 exceeded 11 attempts (max 10): crashed"},
	}
	for _, c := range cases {
		if got := c.d.DisplayMessage(); got != c.want {
			t.Errorf("DisplayMessage() = %q, want %q", got, c.want)
		}
	}
}

func TestLimits(t *testing.T) {
	l := Limits{MaxNameBytes: 4, MaxPayloadBytes: 3, MaxTagBytes: 2}
	if err := l.CheckName("name", ""); err == nil {
		t.Error("empty name accepted")
	}
	if err := l.CheckName("name", "abcde"); err == nil || !contains(err.Error(), "MaxNameBytes=4") {
		t.Errorf("long name: %v", err)
	}
	if err := l.CheckName("name", "\xff"); err == nil {
		t.Error("invalid UTF-8 accepted")
	}
	if err := l.CheckPayload("input", "abcd"); err == nil || !contains(err.Error(), "MaxPayloadBytes=3") {
		t.Errorf("payload: %v", err)
	}
	if err := l.CheckTag("tag", "abc"); err == nil {
		t.Error("long tag accepted")
	}
	if err := (Limits{}).CheckPayload("x", "abc"); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestShorten(t *testing.T) {
	if got := Shorten("héllo", 2); got != "h…" {
		t.Fatalf("Shorten cut inside a rune: %q", got)
	}
	if got := Shorten("abc", 5); got != "abc" {
		t.Fatalf("%q", got)
	}
}
