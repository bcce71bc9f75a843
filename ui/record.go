package ui

import (
	"errors"

	tea "charm.land/bubbletea/v2"
)

// recordMsg is the result of a Toggle.
type recordMsg struct {
	text string
	err  error
}

func recordToggleCmd(rc RecordControl) tea.Cmd {
	return func() tea.Msg {
		text, err := rc.Toggle()
		return recordMsg{text, err}
	}
}

// dropSampleMsg is the result of a DropSampleControl.Toggle.
type dropSampleMsg struct {
	text string
	err  error
}

// dropSampleToggleCmd switches the drop tracer's sampled stream (S in
// the Drops tab).
func dropSampleToggleCmd(c DropSampleControl) tea.Cmd {
	if c == nil {
		return func() tea.Msg {
			return dropSampleMsg{err: errNoDropSample}
		}
	}
	return func() tea.Msg {
		text, err := c.Toggle()
		return dropSampleMsg{text, err}
	}
}

// errNoDropSample is why S does nothing without a control.
var errNoDropSample = errors.New("the sampled stream needs the eBPF drop tracer, live")

// checkRecorder says in the status line, once, why the recorder stopped
// by itself (a full disk).
func (a *App) checkRecorder() {
	if a.opts.Controls.Recorder == nil || a.recReported {
		return
	}
	if on, err := a.opts.Controls.Recorder.Recording(); !on && err != nil {
		a.setStatus("recorder: "+oneLine(err.Error()), true)
		a.recReported = true
	}
}

// recordState is the header's recording mark: " REC " while recording,
// " REC STOPPED " after the recorder stopped by itself.
func (a *App) recordState() string {
	if a.opts.Controls.Recorder == nil {
		return ""
	}
	on, stopped := a.opts.Controls.Recorder.Recording()
	switch {
	case on:
		return " REC "
	case stopped != nil:
		return " REC STOPPED "
	}
	return ""
}
