//go:build wasip1

package guest

import (
	"encoding/json"
	"unsafe"
)

// The guest ABI (module "duroxide"). The host calls the exports; the guest
// calls the imports. Payloads are JSON, exactly as in docs/protocol.md.
//
//	export duroxide_manifest() i32    writes the Manifest with write_output; 0
//	export duroxide_activate() i32    reads the Activation with input_len and
//	                                  read_input, runs it on the execution's
//	                                  driver (core/orchestration) and writes
//	                                  its []Command with write_output (nothing
//	                                  when there are none); 0 on success, else
//	                                  1 and the last write_output is the error
//	import input_len() i32            length of the pending input
//	import read_input(ptr)            copies the input to ptr
//	import write_output(ptr, len)     hands bytes to the host
//	import log(ptr, len)              one JSON log record
//
// The host sends one job per activation, so the guest does exactly the
// same work for a job whether it runs warm or replays it on a fresh
// instance. The JSON is read and written by wire.go, not encoding/json.

//go:wasmimport duroxide input_len
func hostInputLen() int32

//go:wasmimport duroxide read_input
func hostReadInput(ptr unsafe.Pointer)

//go:wasmimport duroxide write_output
func hostWriteOutput(ptr unsafe.Pointer, n int32)

//go:wasmimport duroxide log
func hostLog(ptr unsafe.Pointer, n int32)

func writeOutput(b []byte) {
	if len(b) == 0 {
		hostWriteOutput(nil, 0)
		return
	}
	hostWriteOutput(unsafe.Pointer(&b[0]), int32(len(b)))
}

// output is reused across activations.
var output []byte

// hostLogRecord hands one JSON log record to the host.
func hostLogRecord(rec []byte) {
	if len(rec) > 0 {
		hostLog(unsafe.Pointer(&rec[0]), int32(len(rec)))
	}
}

// input is reused across activations.
var input []byte

//go:wasmexport duroxide_manifest
func exportManifest() int32 {
	b, err := json.Marshal(manifest())
	if err != nil {
		writeOutput([]byte(err.Error()))
		return 1
	}
	writeOutput(b)
	return 0
}

//go:wasmexport duroxide_activate
func exportActivate() int32 {
	n := int(hostInputLen())
	if cap(input) < n {
		input = make([]byte, n)
	}
	input = input[:n]
	if n > 0 {
		hostReadInput(unsafe.Pointer(&input[0]))
	}
	cmds, err := serveActivate(input, hostLogRecord)
	if err != nil {
		writeOutput([]byte(err.Error()))
		return 1
	}
	if len(cmds) > 0 {
		output = appendCommands(output[:0], cmds)
		writeOutput(output)
	}
	return 0
}
