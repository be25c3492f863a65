package wasm

import (
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// wasiProbe calls the sandbox's WASI functions directly, with good and
// hostile arguments.
const wasiProbe = `(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $envsizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept" (func $accept (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "hello\n")
  (func (export "clock_realtime") (result i64)
    (drop (call $clock (i32.const 0) (i64.const 0) (i32.const 0))) (i64.load (i32.const 0)))
  (func (export "clock_monotonic") (result i64)
    (drop (call $clock (i32.const 1) (i64.const 0) (i32.const 0))) (i64.load (i32.const 0)))
  (func (export "clock_bad_pointer") (result i32) (call $clock (i32.const 0) (i64.const 0) (i32.const 65532)))
  (func (export "clock_bad_id") (result i32) (call $clock (i32.const 9) (i64.const 0) (i32.const 0)))
  (func (export "random") (result i64)
    (drop (call $random (i32.const 0) (i32.const 8))) (i64.load (i32.const 0)))
  (func (export "random_bad_pointer") (result i32) (call $random (i32.const 65000) (i32.const 1000)))
  (func (export "write_stdout") (result i32)
    (i32.store (i32.const 16) (i32.const 1024)) (i32.store (i32.const 20) (i32.const 6))
    (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 32))) (i32.load (i32.const 32)))
  (func (export "write_bad_iovec") (result i32)
    (i32.store (i32.const 16) (i32.const 65530)) (i32.store (i32.const 20) (i32.const 60))
    (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 32)))
  (func (export "write_file") (result i32) (call $write (i32.const 5) (i32.const 16) (i32.const 0) (i32.const 32)))
  (func (export "read_stdin") (result i32)
    (i32.store (i32.const 48) (i32.const 7))
    (drop (call $read (i32.const 0) (i32.const 16) (i32.const 0) (i32.const 48))) (i32.load (i32.const 48)))
  ;; sleep: one relative clock subscription of 5 s at 2048, event at 4096
  (func (export "sleep5s") (result i32)
    (i32.store8 (i32.const 2056) (i32.const 0))
    (i32.store (i32.const 2064) (i32.const 1))
    (i64.store (i32.const 2072) (i64.const 5000000000))
    (i32.store16 (i32.const 2088) (i32.const 0))
    (call $poll (i32.const 2048) (i32.const 4096) (i32.const 1) (i32.const 48)))
  (func (export "poll_bad") (result i32) (call $poll (i32.const 65500) (i32.const 4096) (i32.const 1) (i32.const 48)))
  (func (export "open") (result i32)
    (call $open (i32.const 3) (i32.const 0) (i32.const 1024) (i32.const 5) (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 48)))
  (func (export "prestat") (result i32) (call $prestat (i32.const 3) (i32.const 0)))
  (func (export "envsizes") (result i32)
    (i32.store (i32.const 0) (i32.const 99)) (drop (call $envsizes (i32.const 0) (i32.const 4))) (i32.load (i32.const 0)))
  (func (export "accept") (result i32) (call $accept (i32.const 3) (i32.const 0) (i32.const 0)))
)`

func TestWASI(t *testing.T) {
	cfg := wasmtime.NewConfig()
	engine := wasmtime.NewEngineWithConfig(cfg)
	b, err := wasmtime.Wat2Wasm(wasiProbe)
	must(t, err)
	mod, err := wasmtime.NewModule(engine, b)
	must(t, err)
	lk, err := newLinker(engine, mod)
	must(t, err)
	defer lk.Close()
	logs := &logRecorder{}
	st := &instState{logger: slog.New(logs), rng: rand.NewChaCha8(seedFor("wasi", 1))}
	store := wasmtime.NewStoreWithData(engine, st)
	defer store.Close()
	st.store = store
	inst, err := lk.Instantiate(store, mod)
	must(t, err)
	call := func(name string) any {
		t.Helper()
		v, err := inst.GetFunc(store, name).Call(store)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	st.beginJob(false) // job 1: the clock reads 1 ms past its epoch
	cases := []struct {
		name string
		want any
	}{
		{"clock_realtime", int64(logicalEpochNs + jobTickNs)},
		{"clock_monotonic", int64(monotonicBaseNs + jobTickNs)},
		{"clock_bad_pointer", errnoFault},
		{"clock_bad_id", errnoInval},
		{"random_bad_pointer", errnoFault},
		{"write_stdout", int32(6)},
		{"write_bad_iovec", errnoFault},
		{"write_file", errnoBadf},
		{"read_stdin", int32(0)},
		{"sleep5s", errnoSuccess},
		{"clock_monotonic", int64(monotonicBaseNs + jobTickNs + 5_000_000_000)},
		{"poll_bad", errnoFault},
		{"open", errnoNotcapable},
		{"prestat", errnoBadf},
		{"envsizes", int32(0)},
		{"accept", errnoNotcapable},
	}
	for _, c := range cases {
		if got := call(c.name); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if n := logs.count("hello stream=stdout"); n != 1 {
		t.Errorf("stdout line logged %d times: %v", n, logs.recs)
	}

	// The random stream is a function of the instance's seed and the job.
	draw := func(seed [32]byte, job uint64) any {
		st.rng = rand.NewChaCha8(jobSeed(seed, job))
		return call("random")
	}
	a, other := seedFor("wasi", 1), seedFor("other", 1)
	if draw(a, 1) != draw(a, 1) {
		t.Error("the same instance and job drew different values")
	}
	if draw(a, 1) == draw(a, 2) || draw(a, 1) == draw(other, 1) {
		t.Error("another job or instance drew the same value")
	}
}

// The host's decoders of guest output never panic.
func FuzzGuestOutput(f *testing.F) {
	f.Add([]byte(`[{"kind":"complete","output":"x"}]`))
	f.Add([]byte(`{"level":"INFO","msg":"m","k":1}`))
	f.Add([]byte("fatal error: out of memory\n\ngoroutine 1\n"))
	f.Add([]byte(`[{"kind":"fail","error":{"category":"application"}}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeChunks([][]byte{b})
		st := &instState{logger: slog.New(slog.DiscardHandler)}
		st.guestLog(b)
		st.output(1, b)
		st.output(2, b)
		st.output(2, []byte("\n"))
	})
}
