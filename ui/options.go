package ui

import (
	"context"
	"time"

	"netlens/model"
	"netlens/model/rules"
)

// DefaultRefresh is the redraw interval when Options.Refresh is zero.
const DefaultRefresh = time.Second

// Minimum terminal size the layout is designed for.
const (
	MinWidth  = 80
	MinHeight = 24
)

// Options configure the UI.
type Options struct {
	// Refresh is the minimum interval between redraws caused by new data:
	// however often collectors publish, the screen changes at most once
	// per Refresh (DefaultRefresh when zero).
	Refresh time.Duration
	// SaveSnapshot writes a snapshot and returns where it went. It is
	// called, off the UI goroutine, with the snapshot on screen when the
	// user presses `s`. Nil disables the key (the status line says so).
	SaveSnapshot func(model.Snapshot) (path string, err error)
	// Version is shown in the header.
	Version string
	// NoMouse leaves the mouse to the terminal (text selection); by
	// default the UI takes mouse events to scroll with the wheel.
	NoMouse bool
	// Deps names the collectors each tab's data comes from, so that a tab
	// whose collector is down says why instead of showing an empty table.
	// Nil fields take DefaultConnectionsDeps, DefaultFlowsDeps,
	// DefaultDropsDeps, DefaultSysctlDeps, DefaultFiltersDeps,
	// DefaultCaptureDeps, DefaultInterfacesDeps and DefaultIPsecDeps.
	Deps Deps
	// Controls reach what the UI may act on; see Controls.
	Controls Controls
	// CaptureDir is the directory where the Capture tab's w writes
	// pcapng files ("." when empty).
	CaptureDir string
	// Now is the clock (time.Now when nil); tests replace it.
	Now func() time.Time
	// DropSource says where drop reasons come from and why ("eBPF:
	// permitted (auto)"), for the Drops tab's reasons view.
	DropSource string
	// Glyphs says whether the Drops tab's sparklines may use Unicode
	// block glyphs. Run detects it from TERM and the locale when it is
	// GlyphsAuto; New alone then draws ASCII.
	Glyphs Glyphs
	// Offline, when set, says the TUI shows snapshot files, not a live
	// host (netlens --open): the header says whose snapshot and when.
	Offline *Offline
	// Warning, when set, is shown in the status line at start, as an
	// error: what will fail and why (an output directory that cannot be
	// written), before the user finds out by losing a snapshot.
	Warning string
}

// Controls are the UI's only way to act on the host or on a running
// collector: small interfaces declared here, implemented outside ui and
// wired in cli (cli/root.go). A nil control turns its keys off and says
// why. A new control is one more field here and one line in cli.
type Controls struct {
	// Filters changes filter rules for the Filters tab
	// (control/filter.Control); nil shows the rules read-only.
	Filters FilterControl
	// Capture reaches the running capture for the Capture tab's packets
	// view and pcapng writing; nil when no capture runs.
	Capture CaptureControl
	// CaptureRun starts and stops a capture from the Capture tab (c;
	// control/capture.Control); nil turns the key off (netlens was started
	// with --capture or --pcap, or shows a file).
	CaptureRun CaptureRunControl
	// Sysctl changes net.* sysctls from the Sysctl tab and from a Drops
	// counter's explanation (e; control/sysctl); nil turns the key off.
	Sysctl SysctlControl
	// NetNS lists namespaces and moves the collectors into one for the
	// namespace picker (N); nil turns the key off.
	NetNS NetNSControl
	// Recorder starts and stops the flight recorder (R); nil turns the
	// key off.
	Recorder RecordControl
	// PacketLog streams a rule's packet log for the Filters tab (Enter on
	// a rule); nil, or ErrNoPacketLog from it, leaves Enter to details.
	PacketLog PacketLogControl
	// DropSample switches the eBPF drop tracer's sampled stream (S in
	// the Drops tab); nil turns the key off.
	DropSample DropSampleControl
	// TCPInfo reads the tcp_info of the socket selected in the
	// Connections tab when the table has none (the TUI reads its sockets
	// counters only); nil leaves the detail pane to the table's.
	TCPInfo TCPInfoControl
	// FlowCounters is told whether the flows' byte and packet counts are
	// wanted (cli's conntrack.Demand); nil leaves them always refreshed.
	FlowCounters FlowCountersControl
}

// FlowCountersControl is told whether anything on screen or being
// recorded needs the conntrack flows' counters: the Connections tab's
// Flows or Joined view is active, or the recorder runs. While nothing
// does, the conntrack collector makes no periodic dump (events keep the
// flows themselves current), the larger part of the TUI's CPU at
// 100,000 flows. Want is called from Update on every change; it must be
// quick and safe for concurrent use.
type FlowCountersControl interface {
	Want(on bool)
}

// TCPInfoControl reads one TCP socket's tcp_info now (cli's over
// sockets.LookupTCPInfo, in the collectors' namespace): the TUI's socket
// table carries only the counters its rates need, and the Connections
// detail pane asks for the selected socket's tcp_info, once per socket
// table while the pane is open. Called from tea.Cmds only; safe for
// concurrent use.
type TCPInfoControl interface {
	// TCPInfo returns s's tcp_info; nil and no error for a socket that
	// has none (TIME-WAIT).
	TCPInfo(ctx context.Context, s model.Socket) (*model.TCPInfo, error)
}

// PacketLogControl streams the packet log of a rule (control/filter.Control
// over the kernel module's "packets" group or nftables' log group). PacketLog blocks until ctx is
// done and is called from a goroutine the Filters tab owns (it cancels ctx
// when the log view closes); implementations must be safe for concurrent
// use.
type PacketLogControl interface {
	// PacketLog calls fn with every packet rule id logs, and lost after
	// each receive-buffer overrun, until ctx is done.
	PacketLog(ctx context.Context, id uint32, fn func(model.LoggedPacket), lost func()) error
}

// DropSampleControl switches the eBPF drop tracer's sampled stream on and
// off while it runs (S in the Drops tab; cli's switchingSample over
// collectors/droptrace). Toggle, which may wait for a read of the tracer
// in progress, is called from tea.Cmds only. Implementations must be safe
// for concurrent use.
type DropSampleControl interface {
	// Toggle switches the stream on (one drop in N per CPU) when it is
	// off and off when it is on, and says what it did.
	Toggle() (msg string, err error)
}

// RecordControl starts and stops the flight recorder (R; cli's
// recordControl over package recorder). Toggle, which may wait for a
// file being written, is called from tea.Cmds only; Recording must be
// quick: the header asks it on every draw. Implementations must be safe
// for concurrent use.
type RecordControl interface {
	// Toggle starts recording when it is stopped and stops it when it
	// runs, and says what it did ("recording every 10s into /var/tmp").
	Toggle() (msg string, err error)
	// Recording reports whether the recorder runs, and, when it stopped
	// by itself (a full disk), why.
	Recording() (on bool, stopped error)
}

// CaptureControl reaches the running capture (collectors/capture.Collector
// satisfies it) for what is not published on every update: a flow's last
// packets decoded, pcapng files. Its methods are safe for
// concurrent use. FlowPackets is quick (it decodes at most n stored
// packets); WritePcapng does file I/O and belongs in a tea.Cmd.
type CaptureControl interface {
	// FlowPackets returns the last n stored packets of the flow, oldest
	// first, decoded layer by layer. The store keeps the capture's last
	// StorePackets packets: a flow with none among them has none to show.
	FlowPackets(flow model.CaptureFlowKey, n int) []model.CapturedPacket
	// WritePcapng writes the stored packets (only the flow's when flow is
	// not nil) to path atomically and returns how many it wrote.
	WritePcapng(path string, flow *model.CaptureFlowKey) (int, error)
}

// CaptureRunControl starts and stops a packet capture from inside the
// TUI (control/capture.Control). CheckFilter and Running are quick and
// may be called from Update (the form validates the filter on every
// key); Interfaces, Start and Stop open or close sockets and are called
// from tea.Cmds only. Implementations must be safe for concurrent use.
type CaptureRunControl interface {
	// CheckFilter compiles a capture filter (tcpdump syntax) with the
	// compiler of --capture-filter: nil when valid or empty.
	CheckFilter(expr string) error
	// Interfaces lists the links a capture can open on, "any" first.
	Interfaces() ([]string, error)
	// Start starts the capture req describes; it publishes its
	// statistics to the Store until its limit or Stop. An error says
	// why it did not start (CAP_NET_RAW named when it is missing).
	Start(req model.CaptureRequest) error
	// Stop stops the running capture; its packets stay writable (w).
	Stop() error
	// Running reports whether a capture started here runs.
	Running() bool
}

// SysctlControl changes net.* sysctls with a revert deadline
// (control/sysctl, wired in cli). Its methods read and write files: the
// UI calls them from tea.Cmds only. Implementations must be safe for
// concurrent use.
type SysctlControl interface {
	// Plan validates a change (an error says why it is refused, and
	// nothing changed) and asks the guard (SysctlPlan.Risks).
	Plan(name, value string) (SysctlPlan, error)
	// Apply writes the planned value; with a revert deadline the old
	// value comes back at SysctlResult.RevertAt unless confirmed. It
	// publishes the new value and the journal to the Store before it
	// returns.
	Apply(p SysctlPlan) (SysctlResult, error)
	// Confirm keeps the change waiting for a confirm.
	Confirm() (model.SysctlPending, error)
}

// SysctlPlan is a validated sysctl change (control/sysctl.Plan).
type SysctlPlan struct {
	Name, Old, New string
	// Revert is the deadline's delay (0: none).
	Revert time.Duration
	// Risks name what the change could cut (the operator's SSH
	// session, routed traffic); the UI asks again when there are any.
	Risks []string
}

// SysctlResult is an applied sysctl change.
type SysctlResult struct {
	Txn      uint32
	RevertAt time.Time // zero: kept without a deadline
}

// FilterControl plans, applies and confirms filter rule changes: what
// control/filter.Manager does. The UI calls it only from tea.Cmds, never from
// Update; implementations must be safe for concurrent use.
type FilterControl interface {
	// Plan validates op and works out its effect (drop-capable, the
	// revert deadline, the lockout guard's Impact).
	Plan(op rules.Op) (rules.Plan, error)
	// Apply makes the planned change (commit-confirmed when the plan has
	// a revert deadline). Apply and Confirm should publish the rules they
	// leave to the Store before they return: the UI shows the Store's
	// latest snapshot as soon as they do, whatever the refresh interval.
	Apply(p rules.Plan) (rules.Result, error)
	// Confirm keeps the pending change txn (0: every pending change).
	Confirm(txn uint32) error
}

// NetNSControl lists the host's network namespaces and moves every
// collector into one, without restarting netlens. It is wired in cli
// (cli/netns_tui.go, collectors/netns behind it). The UI calls it only from
// tea.Cmds; implementations must be safe for concurrent use.
type NetNSControl interface {
	// List returns every namespace netlens can see, netlens's own first
	// or marked Own.
	List() ([]NetNSChoice, error)
	// Switch moves every collector into the namespace with this inode
	// (0: netlens's own). When it returns, the Store has the new
	// namespace (model.NetNSUpdate) and the collectors run in it.
	Switch(inode uint64) error
}

// AllNamespaces is the inode NetNSControl.Switch takes for the
// all-namespaces view.
const AllNamespaces = ^uint64(0)

// NetNSChoice is one namespace in the picker.
type NetNSChoice struct {
	Inode     uint64
	Name      string // ip netns name, or a bind-mount path
	Container string
	Pod       string
	PID       int
	Command   string
	Procs     int
	Sockets   int  // TCP+UDP+raw in use; -1 unknown
	Own       bool // netlens's own namespace
	Host      bool // PID 1's namespace: the host's
	All       bool // the all-namespaces view (Inode is AllNamespaces)
	Enterable bool
	Reason    string // why it cannot be entered
}

// Deps names the collectors behind each tab.
type Deps struct {
	// Connections is the Connections tab's sockets view; Flows its flows
	// view (the joined view needs both). The first of Flows is also the
	// collector whose health the Drops tab's netfilter section and the
	// TABLE FULL banner describe.
	Connections []string
	Flows       []string
	Drops       []string
	Sysctl      []string
	Filters     []string
	Capture     []string
	Interfaces  []string
	IPsec       []string
}

func (o Options) withDefaults() Options {
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Deps.Connections == nil {
		o.Deps.Connections = DefaultConnectionsDeps
	}
	if o.Deps.Flows == nil {
		o.Deps.Flows = DefaultFlowsDeps
	}
	if o.Deps.Drops == nil {
		o.Deps.Drops = DefaultDropsDeps
	}
	if o.Deps.Sysctl == nil {
		o.Deps.Sysctl = DefaultSysctlDeps
	}
	if o.Deps.Filters == nil {
		o.Deps.Filters = DefaultFiltersDeps
	}
	if o.Deps.Capture == nil {
		o.Deps.Capture = DefaultCaptureDeps
	}
	if o.Deps.Interfaces == nil {
		o.Deps.Interfaces = DefaultInterfacesDeps
	}
	if o.Deps.IPsec == nil {
		o.Deps.IPsec = DefaultIPsecDeps
	}
	if o.CaptureDir == "" {
		o.CaptureDir = "."
	}
	return o
}
