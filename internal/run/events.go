package run

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/drydockscan/drydock/internal/run/trace"
)

// Caps of an events file, which may come from anywhere.
const (
	MaxEventLine  = 1 << 20
	MaxEventsFile = 2000000
)

// ErrEvents is wrapped by errors reading an events file.
var ErrEvents = errors.New("events file")

// WriteEvents writes events as JSON lines (drydock run --events).
func WriteEvents(w io.Writer, events []trace.Event) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// LoadEvents reads an events file written by drydock run --events: one
// JSON event per line, blank lines ignored. Errors name the line.
func LoadEvents(r io.Reader) ([]trace.Event, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out []trace.Event
	line := 0
	for {
		b, err := readLine(br)
		if errors.Is(err, io.EOF) && len(b) == 0 {
			break
		}
		line++
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: line %d: %v", ErrEvents, line, err)
		}
		s := strings.TrimSpace(string(b))
		if s != "" {
			if len(out) >= MaxEventsFile {
				return nil, fmt.Errorf("%w: more than %d events", ErrEvents, MaxEventsFile)
			}
			var ev trace.Event
			dec := json.NewDecoder(strings.NewReader(s))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ev); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrEvents, line, err)
			}
			if dec.More() {
				return nil, fmt.Errorf("%w: line %d: more than one JSON value", ErrEvents, line)
			}
			if ev.Kind == "" {
				return nil, fmt.Errorf("%w: line %d: event without a kind", ErrEvents, line)
			}
			out = append(out, ev)
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	return out, nil
}

// readLine reads one line of at most MaxEventLine bytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		b = append(b, chunk...)
		if len(b) > MaxEventLine {
			return nil, fmt.Errorf("line longer than %d bytes", MaxEventLine)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return b, err
	}
}

func errnoName(n int) string {
	if name := unix.ErrnoName(syscall.Errno(n)); name != "" {
		return name
	}
	return "errno " + strconv.Itoa(n)
}
