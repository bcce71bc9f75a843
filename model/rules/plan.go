package rules

import (
	"fmt"
	"strings"
	"time"

	"netlens/model"
)

// Backend names (model.RulesState.Backend; control/filter.Options.Backend).
const (
	BackendAuto = "auto"
	BackendKmod = "kmod"
	BackendNFT  = "nft"
	BackendNone = "none"
)

// OpKind is the kind of a change.
type OpKind string

// Kinds of change.
const (
	OpAdd     OpKind = "add"
	OpChange  OpKind = "change"
	OpEnable  OpKind = "enable"
	OpDisable OpKind = "disable"
	OpDelete  OpKind = "delete"
	OpLoad    OpKind = "load"
	// OpPolicy sets the default policy of a hook (Op.Policy).
	OpPolicy OpKind = "policy"
)

// Op is a change to the rules.
type Op struct {
	Kind OpKind
	// ID is the rule to change, enable, disable or delete.
	ID uint32
	// Rule is the rule to add, or the new fields of the rule to change.
	Rule model.Rule
	// Rules are the rules to load (they replace every rule).
	Rules []model.Rule
	// Policy is the default policy to set (OpPolicy).
	Policy Policy
}

// Plan is a change checked against the current rules, before it is
// applied: what the rules become, whether the change can drop traffic,
// and what established connections it would cut.
type Plan struct {
	Op            Op
	Before, After []model.Rule
	// DropCapable changes are applied with a revert deadline of Revert.
	DropCapable bool
	Revert      time.Duration
	Impact      Impact
}

// NeedsSecondConfirm reports whether the UI must ask again before
// applying: the change would cut the operator's session or other
// established connections.
func (p Plan) NeedsSecondConfirm() bool { return p.Impact.Cuts() }

// Result is what applying a plan did.
type Result struct {
	// Rule is the rule added or changed (zero for delete and load).
	Rule model.Rule
	// Txn is the transaction to confirm before RevertAt, or 0. A load
	// through the kernel module opens one transaction per rule: Confirm(0)
	// confirms them all.
	Txn      uint32
	RevertAt time.Time
	// Txns are all the transactions the change opened when it opened
	// more than one (a policy of both families: one each).
	Txns []uint32
}

// HitKind says what a Hit is.
type HitKind string

// Kinds of hits.
const (
	HitSession HitKind = "ssh-session" // the operator's own SSH connection
	HitSocket  HitKind = "socket"      // an established local socket
	HitFlow    HitKind = "flow"        // a conntrack flow
)

// Hit is one connection a rule set would cut.
type Hit struct {
	Kind HitKind
	// What describes the connection: "tcp 10.0.0.2:50000 -> 10.0.0.1:22".
	What string
	// Hook and Dir say where the packet is dropped (Dir: "in", "out" or
	// "forward").
	Hook, Dir string
	// Rule is the rule that drops it; zero when Policy is set.
	Rule model.Rule
	// Policy is set when no rule decides the packet and the default
	// policy of its hook drops it.
	Policy *Policy
}

// By names what drops the packet: `rule 5 "label"`, "the new rule" or
// "the default policy (drop at ipv4 input)".
func (h Hit) By() string {
	if h.Policy != nil {
		return "the default policy (" + h.Policy.String() + ")"
	}
	if h.Rule.ID == 0 || h.Rule.ID == ^uint32(0) {
		return "the new rule"
	}
	if h.Rule.Label == "" {
		return fmt.Sprintf("rule %d", h.Rule.ID)
	}
	return fmt.Sprintf("rule %d %q", h.Rule.ID, h.Rule.Label)
}

// Impact is what applying a change would cut.
type Impact struct {
	// Session is set when the operator's own SSH session would be cut.
	Session *Hit
	// Hits are the sockets and flows cut (the session not included),
	// at most MaxHits of them; Sockets and Flows count all.
	Hits    []Hit
	Sockets int
	Flows   int
}

// MaxHits bounds Impact.Hits.
const MaxHits = 50

// Cuts reports whether anything at all would be cut.
func (im Impact) Cuts() bool { return im.Session != nil || im.Sockets > 0 || im.Flows > 0 }

// String summarises the impact for a confirmation prompt or the CLI.
func (im Impact) String() string {
	var parts []string
	if im.Session != nil {
		parts = append(parts, fmt.Sprintf("YOUR SSH SESSION (%s) would be cut by %s at %s",
			im.Session.What, im.Session.By(), im.Session.Hook))
	}
	if im.Sockets > 0 {
		parts = append(parts, fmt.Sprintf("%d established socket(s)", im.Sockets))
	}
	if im.Flows > 0 {
		parts = append(parts, fmt.Sprintf("%d conntrack flow(s)", im.Flows))
	}
	if len(parts) == 0 {
		return "no established connection would be cut"
	}
	return strings.Join(parts, "; ")
}

// InvalidError marks an error in how netlens was called or in the rules it
// was given (invalid rule, unknown id format, bad file): the command
// changed nothing and exits 2.
type InvalidError struct{ Err error }

func (e InvalidError) Error() string { return e.Err.Error() }
func (e InvalidError) Unwrap() error { return e.Err }
