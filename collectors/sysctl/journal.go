package sysctl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"netlens/internal/reverthelper"
	"netlens/model"
)

// The sysctl change journal and the pending change of a namespace are
// files that control/sysctl writes and this package reads (the collector
// publishes them; a snapshot shows them): under StateDir,
// netns-KEY.json is the change waiting for a confirm (State) and
// netns-KEY.log the journal, JSON lines of model.SysctlChange, KEY being
// the namespace's collectors.NetNSKey.

// DefaultStateDir is where the journal and the pending change live.
const DefaultStateDir = "/run/netlens/sysctl"

// JournalEntries is how many of the journal's latest entries ReadChanges
// returns.
const JournalEntries = 16

// journalTail is how much of the end of the journal ReadChanges reads.
const journalTail = 64 << 10

// State is the pending change's file: the change, and the revert helper
// that will write Old back at RevertAt unless the file is gone by then.
type State struct {
	model.SysctlPending
	// UID and User asked for the change (the journal says so again
	// when it is reverted).
	UID       int    `json:"uid"`
	User      string `json:"user,omitempty"`
	HelperPID int    `json:"helper_pid,omitempty"`
}

// Paths returns the pending change's and the journal's files of the
// namespace whose key (collectors.NetNSKey) is key, under dir.
func Paths(dir, key string) (state, journal string) {
	base := filepath.Join(dir, "netns-"+key)
	return base + ".json", base + ".log"
}

// ReadState reads a pending change's file.
func ReadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("sysctl revert state %s: %w", path, err)
	}
	return &st, nil
}

// ReadChanges returns the namespace's pending change and the journal's
// latest JournalEntries entries, or nil when neither file exists.
func ReadChanges(dir, key string) (*model.SysctlChanges, error) {
	statePath, journalPath := Paths(dir, key)
	var out model.SysctlChanges
	found := false
	st, err := ReadState(statePath)
	switch {
	case err == nil:
		p := st.SysctlPending
		out.Pending, found = &p, true
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	j, err := readJournal(journalPath)
	switch {
	case err == nil:
		out.Journal, found = j, true
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if !found {
		return nil, nil
	}
	return &out, nil
}

// readJournal reads the last entries of a journal file.
func readJournal(path string) ([]model.SysctlChange, error) {
	data, mod, err := reverthelper.ReadLogTail(path, journalTail)
	if err != nil {
		return nil, err
	}
	return parseJournal(bytes.NewReader(data), mod), nil
}

// parseJournal parses JSON lines of model.SysctlChange, the last
// JournalEntries of them; any other line (a helper's crash on its
// stderr) becomes a failed entry dated modTime.
func parseJournal(r io.Reader, modTime time.Time) []model.SysctlChange {
	out := []model.SysctlChange{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), journalTail)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e model.SysctlChange
		if err := json.Unmarshal(line, &e); err != nil || e.Outcome == "" {
			e = model.SysctlChange{At: modTime, By: "revert helper", Outcome: model.SysctlFailed, Message: string(line)}
		}
		out = append(out, e)
	}
	if len(out) > JournalEntries {
		out = out[len(out)-JournalEntries:]
	}
	return out
}
