// Command scenarios is the guest module of the WebAssembly scenario suite:
// every scenario of shared/SCENARIOS.md as a guest orchestration, plus the
// orchestrations the sandbox tests need (determinism, runaways). Activities
// are Go functions registered by the host test.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o scenarios.wasm .
package main

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/duroxide/duroxide/wasm/guest"
)

func main() {}

func init() {
	guest.Register("HelloWorld", helloWorld)
	guest.Register("Control", control)
	guest.Register("Loop", loop)
	guest.Register("Handled", handled)
	guest.Register("Validating", validating)
	guest.Register("Gabbar", gabbar)
	guest.Register("Squares", squares)
	guest.Register("Timer", timer)
	guest.Register("Timeout", timeout)
	guest.Register("EventRace", eventRace)
	guest.Register("Approve", approve)
	guest.Register("Inbox", inbox)
	guest.Register("Nested", nested)
	guest.Register("ChildUpper", childUpper)
	guest.Register("Parent", parent)
	guest.Register("Leaf", leaf)
	guest.Register("Mid", mid)
	guest.Register("Root", root)
	guest.Register("Chained", chained)
	guest.Register("Coordinator", coordinator)
	guest.Register("Counter", counter)
	guest.Register("Sys", sys)
	guest.Register("Status", status)
	guest.Register("KVCounter", kvCounter)
	guest.Register("WaitsForever", waitsForever)
	guest.Register("AwaitsChild", awaitsChild)
	guest.Register("Retry", retry)
	guest.Register("Changing", changing)
	guest.Register("Known", known)
	guest.Register("CallsMissing", callsMissing)
	guest.Register("CallsThrower", callsThrower)
	guest.Register("Unencodable", guest.Typed(unencodable))
	guest.Register("Hello", hello)

	guest.Register("Entropy", entropy)
	guest.Register("Chain", chain)
	guest.Register("Compensate", compensate)
	guest.Register("Panics", panics)
	guest.Register("Spin", spin)
	guest.Register("Bomb", bomb)
	guest.Register("Deadlock", deadlock)
	guest.Register("Sleeper", sleeper)
}

// 1. hello
func helloWorld(ctx *guest.Context, input string) (string, error) {
	var a, b string
	if err := ctx.ScheduleActivity("Hello", "Go").Await(&a); err != nil {
		return "", err
	}
	ctx.Logger().Info("first greeting", "greeting", a)
	err := ctx.ScheduleActivity("Hello", input).Await(&b)
	return b, err
}

// 2. control flow
func control(ctx *guest.Context, _ string) (string, error) {
	var flag, out string
	if err := ctx.ScheduleActivity("GetFlag", "").Await(&flag); err != nil {
		return "", err
	}
	next := "SayNo"
	if flag == "yes" {
		next = "SayYes"
	}
	err := ctx.ScheduleActivity(next, "").Await(&out)
	return out, err
}

// 3. loop
func loop(ctx *guest.Context, _ string) (string, error) {
	s := "start"
	for i := 0; i < 3; i++ {
		if err := ctx.ScheduleActivity("Append", s).Await(&s); err != nil {
			return "", err
		}
	}
	return s, nil
}

// 4. activity error handled
func handled(ctx *guest.Context, _ string) (string, error) {
	err := ctx.ScheduleActivity("Fragile", "bad").Await(nil)
	var ae *guest.ActivityError
	if !errors.As(err, &ae) || ae.Error() != "boom" {
		return "", fmt.Errorf("unexpected error %v", err)
	}
	var out string
	err = ctx.ScheduleActivity("Recover", "").Await(&out)
	return out, err
}

// 5. activity error propagated
func validating(ctx *guest.Context, in string) (string, error) {
	var out string
	err := ctx.ScheduleActivity("Validate", in).Await(&out)
	return out, err
}

// 6. fan-out/fan-in
func gabbar(ctx *guest.Context, _ string) (string, error) {
	var out []string
	err := ctx.All(ctx.ScheduleActivity("Greet", "Gabbar"), ctx.ScheduleActivity("Greet", "Samba")).Await(&out)
	return strings.Join(out, ","), err
}

// 7. fan-out 100
func squares(ctx *guest.Context, _ string) (string, error) {
	fs := make([]*guest.Future, 0, 100)
	for i := 1; i <= 100; i++ {
		fs = append(fs, ctx.ScheduleActivity("Square", i))
	}
	var sq []int
	if err := ctx.All(fs...).Await(&sq); err != nil {
		return "", err
	}
	sum := 0
	for _, v := range sq {
		sum += v
	}
	return strconv.Itoa(sum), nil
}

// 8. timer
func timer(ctx *guest.Context, _ string) (string, error) {
	if err := ctx.CreateTimer(50 * time.Millisecond).Await(nil); err != nil {
		return "", err
	}
	return "done", nil
}

// 9. timeout race
func timeout(ctx *guest.Context, _ string) (string, error) {
	idx, err := ctx.Select(ctx.ScheduleActivity("LongOp", ""), ctx.CreateTimer(100*time.Millisecond))
	if err != nil {
		return "", err
	}
	if idx == 1 {
		return "", errors.New("timeout")
	}
	return "op finished", nil
}

// 10. event race
func eventRace(ctx *guest.Context, _ string) (string, error) {
	ev := ctx.WaitForEvent("Go")
	r := ctx.Race(ctx.ScheduleActivity("Sleep", ""), ev)
	var v string
	if err := r.Await(&v); err != nil {
		return "", err
	}
	if r.Winner() == 1 {
		return "event:" + v, nil
	}
	return "sleep:" + v, nil
}

// 11. event raised before the wait
func approve(ctx *guest.Context, _ string) (string, error) {
	if err := ctx.ScheduleActivity("Prepare", "").Await(nil); err != nil {
		return "", err
	}
	var v string
	err := ctx.WaitForEvent("Approval").Await(&v)
	return "approved:" + v, err
}

// 12. event queue
func inbox(ctx *guest.Context, _ string) (string, error) {
	var got []string
	for i := 0; i < 3; i++ {
		var v string
		if err := ctx.DequeueEvent("inbox").Await(&v); err != nil {
			return "", err
		}
		got = append(got, v)
	}
	return strings.Join(got, ","), nil
}

// 13. nested race
func nested(ctx *guest.Context, _ string) (string, error) {
	inner := ctx.Race(ctx.CreateTimer(10*time.Second), ctx.WaitForEvent("A"))
	outer := ctx.Race(inner, ctx.ScheduleActivity("Slow", ""))
	var v string
	if err := outer.Await(&v); err != nil {
		return "", err
	}
	if outer.Winner() == 0 && inner.Winner() == 1 {
		return "inner:event:" + v, nil
	}
	return fmt.Sprintf("outer=%d inner=%d", outer.Winner(), inner.Winner()), nil
}

// 14. sub-orchestration
func childUpper(ctx *guest.Context, in string) (string, error) {
	var out string
	err := ctx.ScheduleActivity("Upper", in).Await(&out)
	return out, err
}

func parent(ctx *guest.Context, in string) (string, error) {
	var out string
	err := ctx.ScheduleSubOrchestration("ChildUpper", in).Await(&out)
	return "parent:" + out, err
}

// 15. sub-orchestration chain
func leaf(ctx *guest.Context, in string) (string, error) {
	var out string
	err := ctx.ScheduleActivity("AppendX", in).Await(&out)
	return out, err
}

func mid(ctx *guest.Context, in string) (string, error) {
	var out string
	err := ctx.ScheduleSubOrchestration("Leaf", in).Await(&out)
	return out + "-mid", err
}

func root(ctx *guest.Context, in string) (string, error) {
	var out string
	err := ctx.ScheduleSubOrchestration("Mid", in).Await(&out)
	return "root:" + out, err
}

// 16. detached orchestration
func chained(ctx *guest.Context, in string) (string, error) {
	if err := ctx.CreateTimer(5 * time.Millisecond).Await(nil); err != nil {
		return "", err
	}
	return in, nil
}

func coordinator(ctx *guest.Context, _ string) (string, error) {
	if err := ctx.StartOrchestration("Chained", "W1", "A"); err != nil {
		return "", err
	}
	if err := ctx.StartOrchestration("Chained", "W2", "B"); err != nil {
		return "", err
	}
	return "scheduled", nil
}

// 17. continue-as-new
func counter(ctx *guest.Context, in string) (string, error) {
	n, _ := strconv.Atoi(in)
	if n < 3 {
		return "", ctx.ContinueAsNew(strconv.Itoa(n + 1))
	}
	return "final:" + in, nil
}

// 18. deterministic system calls
func sys(ctx *guest.Context, _ string) (string, error) {
	now, err := ctx.UtcNow()
	if err != nil {
		return "", err
	}
	g, err := ctx.NewGUID()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("n=%d,g=%s", now.UnixMilli(), g), nil
}

// 19. custom status
func status(ctx *guest.Context, _ string) (string, error) {
	ctx.SetCustomStatus("step1")
	if err := ctx.ScheduleActivity("Work", "").Await(nil); err != nil {
		return "", err
	}
	ctx.SetCustomStatus("step2")
	err := ctx.WaitForEvent("Go").Await(nil)
	return "done", err
}

// 20. KV counter
func kvCounter(ctx *guest.Context, _ string) (string, error) {
	for i := 0; i < 3; i++ {
		n := 0
		if v, ok := ctx.GetKVValue("count"); ok {
			n, _ = strconv.Atoi(v)
		}
		if err := ctx.ScheduleActivity("Process", i).Await(nil); err != nil {
			return "", err
		}
		ctx.SetKVValue("count", strconv.Itoa(n+1))
	}
	v, _ := ctx.GetKVValue("count")
	return v, nil
}

// 22. cancel cascades
func waitsForever(ctx *guest.Context, _ string) (string, error) {
	return "", ctx.WaitForEvent("never").Await(nil)
}

func awaitsChild(ctx *guest.Context, _ string) (string, error) {
	return "", ctx.ScheduleSubOrchestrationWithID("WaitsForever", "cancel-child", "").Await(nil)
}

// 23. retry policy
func retry(ctx *guest.Context, _ string) (string, error) {
	var out string
	err := ctx.ScheduleActivityWithRetry("Flaky", "", guest.RetryPolicy{
		MaxAttempts: 3, Backoff: guest.FixedBackoff(10 * time.Millisecond),
	}).Await(&out)
	return out, err
}

// 24. nondeterminism detected: the first deployment schedules A (the
// "changed" module schedules B under the same name and version).
func changing(ctx *guest.Context, _ string) (string, error) {
	if err := ctx.ScheduleActivity("A", "").Await(nil); err != nil {
		return "", err
	}
	return "done", ctx.WaitForEvent("Go").Await(nil)
}

// 25. unknown orchestration: Known keeps running meanwhile.
func known(ctx *guest.Context, in string) (string, error) {
	var out string
	err := ctx.ScheduleActivity("Hello", in).Await(&out)
	return out, err
}

// 26. unknown activity
func callsMissing(ctx *guest.Context, _ string) (string, error) {
	err := ctx.ScheduleActivity("Missing", "").Await(nil)
	if err == nil {
		return "", errors.New("the missing activity succeeded")
	}
	return "caught: " + err.Error(), nil
}

// 27. bad payloads
func callsThrower(ctx *guest.Context, _ string) (string, error) {
	return "", ctx.ScheduleActivity("ThrowsValue", "").Await(nil)
}

func unencodable(*guest.Context, string) (chan int, error) { return make(chan int), nil }

func hello(ctx *guest.Context, in string) (string, error) {
	var out string
	err := ctx.ScheduleActivity("Hello", in).Await(&out)
	return out, err
}

// entropy reads everything that is nondeterministic outside the sandbox and
// sends it to an activity, so the value is recorded in history and a replay
// must produce it again.
func entropy(ctx *guest.Context, _ string) (string, error) {
	t0 := time.Now()
	time.Sleep(3 * time.Second) // the logical clock jumps; no real time passes
	slept := time.Since(t0)
	var cr [8]byte
	_, _ = crand.Read(cr[:])
	m := map[string]int{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8}
	var order strings.Builder
	for k := range m {
		order.WriteString(k)
	}
	_, ferr := os.ReadFile("/etc/hostname")
	_, derr := os.ReadDir(".")
	fmt.Println("entropy: to stdout")
	fmt.Fprintln(os.Stderr, "entropy: to stderr")
	ctx.Logger().Info("entropy: logged", "replaying", ctx.IsReplaying())
	report := fmt.Sprintf("now=%d slept=%s rand=%d crypto=%x map=%s env=%d args=%d file=%v dir=%v host=%q",
		t0.UnixNano(), slept, rand.Int64(), cr, order.String(), len(os.Environ()), len(os.Args), ferr != nil, derr != nil, os.Getenv("HOME"))
	var echoed string
	if err := ctx.ScheduleActivity("Echo", report).Await(&echoed); err != nil {
		return "", err
	}
	// A second step after a turn boundary reads the clock and randomness again.
	second := fmt.Sprintf("now=%d rand=%d", time.Now().UnixNano(), rand.Int64())
	if err := ctx.ScheduleActivity("Echo", second).Await(nil); err != nil {
		return "", err
	}
	return report + " | " + second, nil
}

// chain runs n activities one after the other (benchmarks and warm-vs-fresh tests).
func chain(ctx *guest.Context, in string) (string, error) {
	n, _ := strconv.Atoi(in)
	s := ""
	for i := 0; i < n; i++ {
		if err := ctx.ScheduleActivity("Append", s).Await(&s); err != nil {
			return "", err
		}
	}
	return s, nil
}

// compensate notices its cancellation and records it before ending.
func compensate(ctx *guest.Context, _ string) (string, error) {
	err := ctx.WaitForEvent("never").Await(nil)
	if ctx.IsCancelRequested() {
		ctx.SetCustomStatus("compensated: " + err.Error())
	}
	return "", err
}

func panics(ctx *guest.Context, _ string) (string, error) {
	if err := ctx.ScheduleActivity("Hello", "x").Await(nil); err != nil {
		return "", err
	}
	var m map[string]int
	m["boom"] = 1 // a nil map write: a Go panic, recovered by the SDK
	return "unreachable", nil
}

// spin loops forever after its first activity: the fuel limit stops it.
func spin(ctx *guest.Context, in string) (string, error) {
	if err := ctx.ScheduleActivity("Hello", in).Await(nil); err != nil {
		return "", err
	}
	n := 0
	for {
		n++
		if n < 0 {
			return "never", nil
		}
	}
}

var hoard [][]byte

// bomb allocates without end: the memory limit stops it.
func bomb(ctx *guest.Context, in string) (string, error) {
	if err := ctx.ScheduleActivity("Hello", in).Await(nil); err != nil {
		return "", err
	}
	for {
		hoard = append(hoard, make([]byte, 1<<20))
	}
}

// deadlock blocks on a channel nobody sends to: the guest's Go runtime
// reports the deadlock and exits.
func deadlock(ctx *guest.Context, _ string) (string, error) {
	ch := make(chan int)
	return strconv.Itoa(<-ch), nil
}

// sleeper sleeps in guest time (which is logical): no real time passes.
func sleeper(ctx *guest.Context, _ string) (string, error) {
	start := time.Now()
	time.Sleep(time.Hour)
	return fmt.Sprintf("slept %s", time.Since(start)), nil
}
