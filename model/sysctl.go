package model

import "time"

// Sysctl is one entry under /proc/sys/net in dotted form.
type Sysctl struct {
	Name    string `json:"name"` // "net.core.somaxconn"
	Value   string `json:"value"`
	Watched bool   `json:"watched"`
	// Why says, for a watched entry, what it governs.
	Why string `json:"why,omitempty"`
}

// SysctlChanges is the sysctl change journal of the namespace
// (control/sysctl): the change waiting for a confirm, if any, and the
// latest entries of the journal, oldest first.
type SysctlChanges struct {
	Pending *SysctlPending `json:"pending,omitempty"`
	Journal []SysctlChange `json:"journal"`
}

// SysctlPending is a sysctl change applied with a revert deadline and not
// yet confirmed: at RevertAt, Old is written back.
type SysctlPending struct {
	Txn      uint32    `json:"txn"`
	Name     string    `json:"name"`
	Old      string    `json:"old"`
	New      string    `json:"new"`
	RevertAt time.Time `json:"revert_at"`
}

// Outcomes of a SysctlChange.
const (
	SysctlApplied   = "applied"   // written, waiting for a confirm until RevertAt
	SysctlKept      = "kept"      // written without a revert deadline (--no-revert)
	SysctlConfirmed = "confirmed" // a pending change kept
	SysctlReverted  = "reverted"  // Old written back at the deadline
	SysctlRefused   = "refused"   // invalid: nothing written
	SysctlFailed    = "failed"    // the kernel refused the write, or a revert failed
)

// SysctlChange is one entry of the sysctl change journal: who changed
// what from what to what, when, and how it ended.
type SysctlChange struct {
	At   time.Time `json:"at"`
	Txn  uint32    `json:"txn,omitempty"`
	Name string    `json:"name"`
	Old  string    `json:"old"`
	New  string    `json:"new"`
	// UID and User are who asked for the change; By is the process
	// that wrote the entry ("netlens (pid 4242)", "revert helper (pid
	// 4250)").
	UID      int       `json:"uid"`
	User     string    `json:"user,omitempty"`
	By       string    `json:"by"`
	Outcome  string    `json:"outcome"`
	RevertAt time.Time `json:"revert_at,omitzero"`
	Message  string    `json:"message,omitempty"`
}

// SysctlChangesUpdate replaces the sysctl change journal.
type SysctlChangesUpdate struct {
	Changes *SysctlChanges
}

func (u SysctlChangesUpdate) apply(s *Store, snap *Snapshot) {
	snap.SysctlChanges = u.Changes
}
