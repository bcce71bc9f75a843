package drops

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"netlens/model"
)

//go:embed knowledge.json
var knowledgeJSON []byte

// Key is where a counter is published: its Source and Group in
// model.CounterKey terms.
type Key struct {
	Source string `json:"source"`
	Group  string `json:"group"`
}

// Setting is a sysctl or other knob that governs a counter. Name is the
// dotted sysctl name ("net.core.rmem_max") when it is a sysctl, otherwise
// the command or option ("ethtool -G DEV rx N").
type Setting struct {
	Name string `json:"name"`
	Note string `json:"note"`
}

// IsSysctl reports whether the setting is a sysctl (its name is dotted
// and starts with net., vm. or kernel.), whose current value the
// snapshot's Sysctls hold.
func (s Setting) IsSysctl() bool {
	return !strings.ContainsAny(s.Name, " /") &&
		(strings.HasPrefix(s.Name, "net.") || strings.HasPrefix(s.Name, "vm.") || strings.HasPrefix(s.Name, "kernel."))
}

// Entry is what netlens knows about one drop-like counter.
type Entry struct {
	Layer model.Layer `json:"layer"`
	// In names the set of sources (Knowledge.Sources) the counter appears
	// in; Keys is that set resolved.
	In   string `json:"in"`
	Keys []Key  `json:"-"`
	// Name is the kernel's name for the counter.
	Name string `json:"name"`
	// Fallback marks a sum the funnel shows only for instances that have
	// no finer counters (/proc/net/dev columns when sysfs or rtnetlink
	// statistics are missing).
	Fallback bool `json:"fallback,omitempty"`
	// Absent says on which kernels or sources the counter does not exist
	// ("Linux 6.4+"); empty for counters every supported kernel has.
	Absent     string    `json:"absent,omitempty"`
	Title      string    `json:"title"`
	Increments string    `json:"increments"`
	Causes     []string  `json:"causes"`
	Settings   []Setting `json:"settings"`
	Traps      []string  `json:"traps"`
	Docs       []string  `json:"docs"`
	// Rank is the entry's position in the funnel (packet order).
	Rank int `json:"-"`
}

// Sysctls returns the names of the sysctls among the entry's settings.
func (e Entry) Sysctls() []string {
	var out []string
	for _, s := range e.Settings {
		if s.IsSysctl() {
			out = append(out, s.Name)
		}
	}
	return out
}

// Reason is a kernel drop reason as the drop monitor reports it.
type Reason struct {
	Name    string      `json:"name"` // without SKB_DROP_REASON_
	Layer   model.Layer `json:"layer"`
	Meaning string      `json:"meaning"`
	// Counter names the MIB or device counter that counts the same drops,
	// when there is one ("Udp RcvbufErrors").
	Counter string `json:"counter,omitempty"`
	// Sysctl is the sysctl that governs the drops, when one does
	// ("net.core.rmem_max").
	Sysctl string `json:"sysctl,omitempty"`
}

// Knowledge is the parsed data file. It is immutable once loaded and safe
// for concurrent use.
type Knowledge struct {
	About    string           `json:"about"`
	Sources  map[string][]Key `json:"sources"`
	Counters []Entry          `json:"counters"`
	Reasons  []Reason         `json:"reasons"`

	index   map[lookupKey]int
	byName  map[string][]int // entries by counter name, for lookup
	reasons map[string]int
	// reasonEntries are the reasons as entries, by name.
	reasonEntries map[string]*Entry
}

type lookupKey struct{ source, group, name string }

// Parse reads and checks a knowledge file: every entry names a known
// layer and source set, has a title and explains what increments it, and
// no counter or reason appears twice.
func Parse(b []byte) (*Knowledge, error) {
	var k Knowledge
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&k); err != nil {
		return nil, fmt.Errorf("knowledge: %w", err)
	}
	k.index = make(map[lookupKey]int, len(k.Counters)*2)
	for i := range k.Counters {
		e := &k.Counters[i]
		keys, ok := k.Sources[e.In]
		switch {
		case !ok:
			return nil, fmt.Errorf("knowledge: counter %s: unknown source set %q", e.Name, e.In)
		case e.Layer.Rank() == len(model.Layers):
			return nil, fmt.Errorf("knowledge: counter %s: unknown layer %q", e.Name, e.Layer)
		case e.Name == "" || e.Title == "" || e.Increments == "":
			return nil, fmt.Errorf("knowledge: counter %q in %s: name, title and increments are required", e.Name, e.In)
		}
		e.Keys = keys
		e.Rank = i
		for _, key := range keys {
			lk := lookupKey{key.Source, key.Group, e.Name}
			if j, dup := k.index[lk]; dup {
				return nil, fmt.Errorf("knowledge: counter %s %s %s listed twice (entries %d and %d)", key.Source, key.Group, e.Name, j, i)
			}
			k.index[lk] = i
		}
	}
	k.byName = make(map[string][]int, len(k.Counters))
	for i, e := range k.Counters {
		k.byName[e.Name] = append(k.byName[e.Name], i)
	}
	k.reasons = make(map[string]int, len(k.Reasons))
	k.reasonEntries = make(map[string]*Entry, len(k.Reasons))
	for i, r := range k.Reasons {
		if _, dup := k.reasons[r.Name]; dup {
			return nil, fmt.Errorf("knowledge: drop reason %s listed twice", r.Name)
		}
		if r.Layer.Rank() == len(model.Layers) || r.Meaning == "" {
			return nil, fmt.Errorf("knowledge: drop reason %s: layer and meaning are required", r.Name)
		}
		k.reasons[r.Name] = i
		e := r.Entry()
		k.reasonEntries[r.Name] = &e
	}
	return &k, nil
}

var (
	defaultOnce sync.Once
	defaultK    *Knowledge
)

// Default returns the knowledge embedded in the binary. It panics if the
// embedded file is invalid, which a test rules out.
func Default() *Knowledge {
	defaultOnce.Do(func() {
		k, err := Parse(knowledgeJSON)
		if err != nil {
			panic(err)
		}
		defaultK = k
	})
	return defaultK
}

// Drop monitor counters (collectors/dropmon publishes them).
const (
	dropMonitorSource = "drop_monitor"
	// DropTraceSource is the source of the eBPF drop tracer's per-reason
	// counters (collectors/droptrace), group "reason" as well.
	DropTraceSource   = "drop_trace"
	dropMonitorReason = "reason"
)

// IsReasonSource says whether counters of source are drop reasons (the
// drop monitor's and the eBPF tracer's, one counter per reason and code
// location): the same drops as the snapshot's drop_monitor.drops and
// drop_trace.reasons, published as counters for the funnel's deltas and
// histories.
func IsReasonSource(source string) bool {
	return source == dropMonitorSource || source == DropTraceSource
}

// Lookup returns the entry for a counter, whatever its Instance. Counters
// of the drop monitor's reasons get an entry made from the reason.
func (k *Knowledge) Lookup(key model.CounterKey) (Entry, bool) {
	if e := k.lookup(key.Source, key.Group, key.Name); e != nil {
		return *e, true
	}
	return Entry{}, false
}

// lookup is Lookup returning a pointer to the shared entry, or nil. It
// hashes the name only: few names have more than two entries.
func (k *Knowledge) lookup(source, group, name string) *Entry {
	for _, i := range k.byName[name] {
		for _, key := range k.Counters[i].Keys {
			if key.Source == source && key.Group == group {
				return &k.Counters[i]
			}
		}
	}
	if (source == dropMonitorSource || source == DropTraceSource) && group == dropMonitorReason {
		return k.reasonEntries[name]
	}
	return nil
}

// Reason returns what the kernel's drop reason name means.
func (k *Knowledge) Reason(name string) (Reason, bool) {
	i, ok := k.reasons[name]
	if !ok {
		return Reason{}, false
	}
	return k.Reasons[i], true
}

// Entry returns the reason as an Entry, for the funnel's explanations.
func (r Reason) Entry() Entry {
	e := Entry{
		Layer: r.Layer, In: dropMonitorSource, Name: r.Name, Keys: []Key{{dropMonitorSource, dropMonitorReason}},
		Title:      "Drop reason " + r.Name,
		Increments: "The kernel's drop monitor or netlens's eBPF drop tracer, for each packet freed with SKB_DROP_REASON_" + r.Name + ": " + r.Meaning,
		Docs:       []string{"include/net/dropreason-core.h"},
		Rank:       1 << 20,
	}
	if r.Counter != "" {
		e.Traps = []string{"The same drops are counted by " + r.Counter + "."}
	}
	if r.Sysctl != "" {
		e.Settings = []Setting{{Name: r.Sysctl, Note: "governs these drops"}}
	}
	return e
}

// Lookup is Default().Lookup.
func Lookup(key model.CounterKey) (Entry, bool) { return Default().Lookup(key) }
