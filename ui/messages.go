package ui

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// storeChangedMsg says the Store published something since the last one.
type storeChangedMsg struct{}

// refreshMsg is the end of the wait between two redraws.
type refreshMsg struct{}

// snapshotSavedMsg is the result of Options.SaveSnapshot.
type snapshotSavedMsg struct {
	path string
	err  error
}

// waitStoreCmd waits for one notification from the Store (or for done) and
// reports it. The App re-issues it after every storeChangedMsg.
func waitStoreCmd(ch <-chan struct{}, done <-chan struct{}) tea.Cmd {
	return func() tea.Msg {
		select {
		case _, ok := <-ch:
			if !ok {
				return nil
			}
			return storeChangedMsg{}
		case <-done:
			return nil
		}
	}
}

// refreshCmd ends the wait between two redraws after d.
func refreshCmd(d time.Duration) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return refreshMsg{} })
}

// saveSnapshotCmd saves snap with save, off the UI goroutine, and then
// releases lease, its hold on snap's sockets.
func saveSnapshotCmd(save func(model.Snapshot) (string, error), snap model.Snapshot, lease *model.Lease) tea.Cmd {
	return func() tea.Msg {
		defer lease.Release()
		path, err := save(snap)
		return snapshotSavedMsg{path: path, err: err}
	}
}
