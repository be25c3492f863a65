package wasm

import (
	"encoding/binary"
	"fmt"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// The sandbox's own wasi_snapshot_preview1. Wasmtime's built-in WASI hands
// the guest the real clock, OS randomness and optionally files; none of
// that may reach orchestration code, so every function is implemented here:
//
//   - args and environment are empty;
//   - clocks are logical (see instState.now): they never read zero, advance
//     only at job boundaries and when the guest sleeps, and are the same on
//     every replay;
//   - random_get is a ChaCha8 stream seeded from the instance id, the
//     execution id and the job's position, so a job reads the same bytes
//     warm or replayed;
//   - stdout and stderr are captured into the orchestration's replay-safe
//     log; stdin reads as empty;
//   - there are no files, directories or sockets: path and socket functions
//     answer ENOTCAPABLE, file-descriptor functions on anything but 0, 1, 2
//     answer EBADF, and there are no preopened directories;
//   - poll_oneoff answers clock subscriptions by advancing the logical clock
//     (a sleep costs no real time) and stdio subscriptions at once;
//   - proc_exit ends the guest (its instance is then failed).

// WASI errno values used here.
const (
	errnoSuccess         int32 = 0
	errnoBadf            int32 = 8
	errnoFault           int32 = 21
	errnoInval           int32 = 28
	errnoNosys           int32 = 52
	errnoNotsup          int32 = 58
	errnoSpipe           int32 = 70
	errnoNotcapable      int32 = 76
	wasiModule                 = "wasi_snapshot_preview1"
	fileTypeCharDev            = 2
	rightFdRead                = 1 << 1
	rightFdWrite               = 1 << 6
	rightPollFdRW              = 1 << 27
	eventTypeClock             = 0
	eventTypeFdRead            = 1
	eventTypeFdWrite           = 2
	subscriptionSize           = 48
	eventSize                  = 32
	subClockAbstime            = 1
	clockRealtime              = 0
	clockMonotonic             = 1
	clockProcessCPUTime        = 2
	clockThreadCPUTime         = 3
	maxPollSubscriptions       = 1 << 12
	maxIOVecs                  = 1 << 10
)

// wasiFunc implements one WASI function. It returns the errno, or a trap.
type wasiFunc func(st *instState, c *wasmtime.Caller, a []wasmtime.Val) (int32, *wasmtime.Trap)

type wasiDef struct {
	params  string // one letter per parameter: i = i32, I = i64
	results string // "i" (errno) or "" (proc_exit)
	fn      wasiFunc
}

// wasiFuncs is all of wasi_snapshot_preview1, by name. A guest importing a
// function with another signature, or a name not in the list, is refused
// when its module is loaded.
var wasiFuncs = map[string]wasiDef{
	"args_get":                {"ii", "i", emptyList},
	"args_sizes_get":          {"ii", "i", emptySizes},
	"environ_get":             {"ii", "i", emptyList},
	"environ_sizes_get":       {"ii", "i", emptySizes},
	"clock_res_get":           {"ii", "i", clockResGet},
	"clock_time_get":          {"iIi", "i", clockTimeGet},
	"fd_advise":               {"iIIi", "i", stdioErrno(errnoSuccess)},
	"fd_allocate":             {"iII", "i", stdioErrno(errnoNotsup)},
	"fd_close":                {"i", "i", stdioErrno(errnoSuccess)},
	"fd_datasync":             {"i", "i", stdioErrno(errnoSuccess)},
	"fd_fdstat_get":           {"ii", "i", fdFdstatGet},
	"fd_fdstat_set_flags":     {"ii", "i", stdioErrno(errnoSuccess)},
	"fd_fdstat_set_rights":    {"iII", "i", stdioErrno(errnoNotcapable)},
	"fd_filestat_get":         {"ii", "i", fdFilestatGet},
	"fd_filestat_set_size":    {"iI", "i", stdioErrno(errnoInval)},
	"fd_filestat_set_times":   {"iIIi", "i", stdioErrno(errnoNotcapable)},
	"fd_pread":                {"iiiIi", "i", stdioErrno(errnoSpipe)},
	"fd_prestat_get":          {"ii", "i", fixedErrno(errnoBadf)},
	"fd_prestat_dir_name":     {"iii", "i", fixedErrno(errnoBadf)},
	"fd_pwrite":               {"iiiIi", "i", stdioErrno(errnoSpipe)},
	"fd_read":                 {"iiii", "i", fdRead},
	"fd_readdir":              {"iiiIi", "i", stdioErrno(errnoNotsup)},
	"fd_renumber":             {"ii", "i", fixedErrno(errnoNotcapable)},
	"fd_seek":                 {"iIii", "i", stdioErrno(errnoSpipe)},
	"fd_sync":                 {"i", "i", stdioErrno(errnoSuccess)},
	"fd_tell":                 {"ii", "i", stdioErrno(errnoSpipe)},
	"fd_write":                {"iiii", "i", fdWrite},
	"path_create_directory":   {"iii", "i", fixedErrno(errnoNotcapable)},
	"path_filestat_get":       {"iiiii", "i", fixedErrno(errnoNotcapable)},
	"path_filestat_set_times": {"iiiiIIi", "i", fixedErrno(errnoNotcapable)},
	"path_link":               {"iiiiiii", "i", fixedErrno(errnoNotcapable)},
	"path_open":               {"iiiiiIIii", "i", fixedErrno(errnoNotcapable)},
	"path_readlink":           {"iiiiii", "i", fixedErrno(errnoNotcapable)},
	"path_remove_directory":   {"iii", "i", fixedErrno(errnoNotcapable)},
	"path_rename":             {"iiiiii", "i", fixedErrno(errnoNotcapable)},
	"path_symlink":            {"iiiii", "i", fixedErrno(errnoNotcapable)},
	"path_unlink_file":        {"iii", "i", fixedErrno(errnoNotcapable)},
	"poll_oneoff":             {"iiii", "i", pollOneoff},
	"proc_exit":               {"i", "", procExit},
	"proc_raise":              {"i", "i", fixedErrno(errnoNosys)},
	"sched_yield":             {"", "i", fixedErrno(errnoSuccess)},
	"random_get":              {"ii", "i", randomGet},
	"sock_accept":             {"iii", "i", fixedErrno(errnoNotcapable)},
	"sock_recv":               {"iiiiii", "i", fixedErrno(errnoNotcapable)},
	"sock_send":               {"iiiii", "i", fixedErrno(errnoNotcapable)},
	"sock_shutdown":           {"ii", "i", fixedErrno(errnoNotcapable)},
}

func fixedErrno(e int32) wasiFunc {
	return func(*instState, *wasmtime.Caller, []wasmtime.Val) (int32, *wasmtime.Trap) { return e, nil }
}

// stdioErrno answers e for the three standard streams and EBADF for any
// other descriptor (none exists).
func stdioErrno(e int32) wasiFunc {
	return func(_ *instState, _ *wasmtime.Caller, a []wasmtime.Val) (int32, *wasmtime.Trap) {
		if !isStdio(a[0].I32()) {
			return errnoBadf, nil
		}
		return e, nil
	}
}

func isStdio(fd int32) bool { return fd >= 0 && fd <= 2 }

// guestMem is a bounds-checked view of the guest's linear memory for one
// host call. Every pointer comes from the guest and is untrusted.
type guestMem []byte

func (m guestMem) slice(ptr, n uint32) ([]byte, bool) {
	end := uint64(ptr) + uint64(n)
	if end > uint64(len(m)) {
		return nil, false
	}
	return m[ptr:end], true
}

func (m guestMem) putU32(ptr, v uint32) bool {
	b, ok := m.slice(ptr, 4)
	if ok {
		binary.LittleEndian.PutUint32(b, v)
	}
	return ok
}

func (m guestMem) putU64(ptr uint32, v uint64) bool {
	b, ok := m.slice(ptr, 8)
	if ok {
		binary.LittleEndian.PutUint64(b, v)
	}
	return ok
}

func u32(v wasmtime.Val) uint32 { return uint32(v.I32()) }

func emptySizes(st *instState, c *wasmtime.Caller, a []wasmtime.Val) (int32, *wasmtime.Trap) {
	m := st.memory(c)
	if !m.putU32(u32(a[0]), 0) || !m.putU32(u32(a[1]), 0) {
		return errnoFault, nil
	}
	return errnoSuccess, nil
}

func emptyList(*instState, *wasmtime.Caller, []wasmtime.Val) (int32, *wasmtime.Trap) {
	return errnoSuccess, nil
}

func clockResGet(st *instState, c *wasmtime.Caller, a []wasmtime.Val) (int32, *wasmtime.Trap) {
	if !validClock(a[0].I32()) {
		return errnoInval, nil
	}
	if !st.memory(c).putU64(u32(a[1]), 1) {
		return errnoFault, nil
	}
	return errnoSuccess, nil
}

func validClock(id int32) bool {
	switch id {
	case clockRealtime, clockMonotonic, clockProcessCPUTime, clockThreadCPUTime:
		return true
	}
	return false
}

func clockTimeGet(st *instState, c *wasmtime.Caller, a []wasmtime.Val) (int32, *wasmtime.Trap) {
	id := a[0].I32()
	if !validClock(id) {
		return errnoInval, nil
	}
	if !st.memory(c).putU64(u32(a[2]), st.clockValue(id)) {
		return errnoFault, nil
	}
	return errnoSuccess, nil
}

func randomGet(st *instState, c *wasmtime.Caller, a []wasmtime.Val) (int32, *wasmtime.Trap) {
	b, ok := st.memory(c).slice(u32(a[0]), u32(a[1]))
	if !ok {
		return errnoFault, nil
	}
	_, _ = st.rng.Read(b)
	return errnoSuccess, nil
}

func fdFdstatGet(st *instState, c *wasmtime.Caller, a []wasmtime.Val) (int32, *wasmtime.Trap) {
	fd := a[0].I32()
	if !isStdio(fd) {
		return errnoBadf, nil
	}
	b, ok := st.memory(c).slice(u32(a[1]), 24)
	if !ok {
		return errnoFault, nil
	}
	clear(b)
	b[0] = fileTypeCharDev
	rights := uint64(rightFdWrite | rightPollFdRW)
	if fd == 0 {
		rights = rightFdRead | rightPollFdRW
	}
	binary.LittleEndian.PutUint64(b[8:], rights)
	return errnoSuccess, nil
}

func fdFilestatGet(st *instState, c *wasmtime.Caller, a []wasmtime.Val) (int32, *wasmtime.Trap) {
	if !isStdio(a[0].I32()) {
		return errnoBadf, nil
	}
	b, ok := st.memory(c).slice(u32(a[1]), 64)
	if !ok {
		return errnoFault, nil
	}
	clear(b)
	b[16] = fileTypeCharDev
	return errnoSuccess, nil
}

// iovecs returns the guest buffers of an iovec array.
func iovecs(m guestMem, ptr, n uint32) ([][]byte, bool) {
	if n > maxIOVecs {
		return nil, false
	}
	raw, ok := m.slice(ptr, n*8)
	if !ok {
		return nil, false
	}
	out := make([][]byte, 0, n)
	for i := uint32(0); i < n; i++ {
		p := binary.LittleEndian.Uint32(raw[i*8:])
		l := binary.LittleEndian.Uint32(raw[i*8+4:])
		b, ok := m.slice(p, l)
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

func fdWrite(st *instState, c *wasmtime.Caller, a []wasmtime.Val) (int32, *wasmtime.Trap) {
	fd := a[0].I32()
	if fd != 1 && fd != 2 {
		if fd == 0 {
			return errnoNotcapable, nil
		}
		return errnoBadf, nil
	}
	m := st.memory(c)
	bufs, ok := iovecs(m, u32(a[1]), u32(a[2]))
	if !ok {
		return errnoFault, nil
	}
	n := 0
	for _, b := range bufs {
		st.output(fd, b)
		n += len(b)
	}
	if !m.putU32(u32(a[3]), uint32(n)) {
		return errnoFault, nil
	}
	return errnoSuccess, nil
}

func fdRead(st *instState, c *wasmtime.Caller, a []wasmtime.Val) (int32, *wasmtime.Trap) {
	fd := a[0].I32()
	if fd != 0 {
		if isStdio(fd) {
			return errnoNotcapable, nil
		}
		return errnoBadf, nil
	}
	// stdin is empty: every read is at its end.
	if !st.memory(c).putU32(u32(a[3]), 0) {
		return errnoFault, nil
	}
	return errnoSuccess, nil
}

// pollOneoff answers at once. Clock subscriptions advance the logical clock
// to the earliest deadline and fire; stdio subscriptions are ready; others
// report EBADF.
func pollOneoff(st *instState, c *wasmtime.Caller, a []wasmtime.Val) (int32, *wasmtime.Trap) {
	in, out, n := u32(a[0]), u32(a[1]), u32(a[2])
	if n == 0 || n > maxPollSubscriptions {
		return errnoInval, nil
	}
	m := st.memory(c)
	subs, ok := m.slice(in, n*subscriptionSize)
	if !ok {
		return errnoFault, nil
	}
	evs, ok := m.slice(out, n*eventSize)
	if !ok {
		return errnoFault, nil
	}
	type ready struct {
		userdata []byte
		typ      byte
		errno    int32
	}
	var nonClock []ready
	var clockSub []byte
	var earliest uint64
	for i := uint32(0); i < n; i++ {
		s := subs[i*subscriptionSize : (i+1)*subscriptionSize]
		switch s[8] {
		case eventTypeClock:
			id := int32(binary.LittleEndian.Uint32(s[16:]))
			timeout := binary.LittleEndian.Uint64(s[24:])
			flags := binary.LittleEndian.Uint16(s[40:])
			if !validClock(id) {
				nonClock = append(nonClock, ready{s[0:8], eventTypeClock, errnoInval})
				continue
			}
			deadline := st.deadline(id, timeout, flags&subClockAbstime != 0)
			if clockSub == nil || deadline < earliest {
				clockSub, earliest = s, deadline
			}
		case eventTypeFdRead, eventTypeFdWrite:
			fd := int32(binary.LittleEndian.Uint32(s[16:]))
			e := errnoSuccess
			if !isStdio(fd) {
				e = errnoBadf
			}
			nonClock = append(nonClock, ready{s[0:8], s[8], e})
		default:
			nonClock = append(nonClock, ready{s[0:8], s[8], errnoInval})
		}
	}
	var fired []ready
	if len(nonClock) > 0 {
		fired = nonClock
	} else {
		st.advanceTo(earliest)
		fired = []ready{{clockSub[0:8], eventTypeClock, errnoSuccess}}
	}
	for i, r := range fired {
		e := evs[uint32(i)*eventSize : uint32(i+1)*eventSize]
		clear(e)
		copy(e[0:8], r.userdata)
		binary.LittleEndian.PutUint16(e[8:], uint16(r.errno))
		e[10] = r.typ
	}
	if !m.putU32(u32(a[3]), uint32(len(fired))) {
		return errnoFault, nil
	}
	return errnoSuccess, nil
}

func procExit(st *instState, _ *wasmtime.Caller, a []wasmtime.Val) (int32, *wasmtime.Trap) {
	code := a[0].I32()
	st.exitCode = &code
	return 0, wasmtime.NewTrap(fmt.Sprintf("guest called proc_exit(%d)", code))
}
