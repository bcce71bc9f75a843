package nft

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"netlens/internal/reverthelper"
	"netlens/model"
)

// The revert log of a namespace is netns-INODE-COOKIE.log next to its state
// file, JSON lines of model.RulesEvent. The revert helper writes it on
// its standard output, which arm opened on that file (so the helper can
// log even when the directory turns read-only); a process that reverts
// an overdue change appends to it. `netlens rules list`, the snapshot's
// rules section and the Filters tab show its last entries.

// maxEvents is how many of the latest entries Events returns.
const maxEvents = 8

// logTail is how much of the end of the log Events reads.
const logTail = 64 << 10

func logPath(statePath string) string {
	return strings.TrimSuffix(statePath, ".json") + ".log"
}

// writeEvent writes one log entry to w.
func writeEvent(w io.Writer, e model.RulesEvent) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// memLog holds the entries this process could not append to the log
// file (the directory is read-only), so that at least its own user sees
// them. It is safe for concurrent use.
type memLog struct {
	mu      sync.Mutex
	entries []model.RulesEvent
}

func (m *memLog) add(e model.RulesEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = append(m.entries, e)
	if len(m.entries) > maxEvents {
		m.entries = m.entries[len(m.entries)-maxEvents:]
	}
}

func (m *memLog) all() []model.RulesEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]model.RulesEvent(nil), m.entries...)
}

// logEvent appends e to the namespace's revert log, or keeps it in
// memory (and says so on stderr) if the log cannot be written.
func (b *Backend) logEvent(e model.RulesEvent) {
	path, err := b.statePath()
	if err == nil {
		var f *os.File
		f, err = os.OpenFile(logPath(path), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err == nil {
			err = writeEvent(f, e)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
	}
	if err != nil {
		e.Message += " (not in the revert log: " + err.Error() + ")"
		fmt.Fprintf(os.Stderr, "netlens: nft revert: %s: txn %d: %s\n", e.By, e.Txn, e.Message)
	}
	b.mem.add(e)
}

// Events returns the latest entries of the namespace's revert log,
// oldest first, with those this process kept in memory.
func (b *Backend) Events() []model.RulesEvent {
	var out []model.RulesEvent
	if path, err := b.statePath(); err == nil {
		out, _ = readEvents(logPath(path))
	}
	for _, e := range b.mem.all() {
		dup := false
		for _, o := range out {
			if o.At.Equal(e.At) && o.Txn == e.Txn && o.Message == e.Message {
				dup = true
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	if len(out) > maxEvents {
		out = out[len(out)-maxEvents:]
	}
	return out
}

// readEvents reads the last entries of a revert log. Lines that are not
// entries (a crash's message) are shown as errors by the helper.
func readEvents(path string) ([]model.RulesEvent, error) {
	data, mod, err := reverthelper.ReadLogTail(path, logTail)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseEvents(bytes.NewReader(data), mod), nil
}

// parseEvents parses JSON lines of model.RulesEvent; any other line (the
// helper's stderr: a panic, a Go runtime error) becomes an error entry
// dated modTime.
func parseEvents(r io.Reader, modTime time.Time) []model.RulesEvent {
	var out []model.RulesEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), logTail)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var e model.RulesEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Message == "" {
			e = model.RulesEvent{At: modTime, By: "revert helper", Message: line, Error: true}
		}
		out = append(out, e)
	}
	if len(out) > maxEvents {
		out = out[len(out)-maxEvents:]
	}
	return out
}
