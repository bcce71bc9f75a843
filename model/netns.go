package model

// NetNS is the network namespace the collectors read when it is not
// netlens's own (--netns, or chosen in the TUI): what the header shows
// and the snapshot records.
type NetNS struct {
	// Inode identifies the namespace (lsns's NS).
	Inode uint64 `json:"inode"`
	// Name is the namespace's name (ip netns), or "" for none.
	Name string `json:"name,omitempty"`
	// Path is the file netlens entered it by.
	Path string `json:"path"`
	// PID is the lowest PID in the namespace (0: none, a bind mount
	// holds it).
	PID int `json:"pid,omitempty"`
	// Container and Pod name who owns it ("web-1" or a short ID;
	// "namespace/name" or "pod UID"), "" for none.
	Container string `json:"container,omitempty"`
	Pod       string `json:"pod,omitempty"`
	// Runtime is the container runtime (docker, containerd, cri-o,
	// podman, machined, lxc).
	Runtime string `json:"runtime,omitempty"`
	// All is set in the all-namespaces view: the sockets are those of
	// every namespace netlens can enter (each with its Namespace), the
	// other sections netlens's own namespace's.
	All bool `json:"all,omitempty"`
	// Gone is set once the namespace has disappeared while selected: the
	// data shown are the last read.
	Gone bool `json:"gone,omitempty"`
}

// NetNSUpdate sets the namespace the collectors read (nil: netlens's
// own). With Switch, the collectors have moved to another namespace: every
// section read in the old one is emptied (and counters start their deltas
// afresh) for the new one's collectors to fill; the drop monitor's, which
// is the whole host's, stays. A Switch also starts a new namespace
// generation: the ScopedPublishers made before it publish nothing more.
type NetNSUpdate struct {
	NetNS  *NetNS
	Switch bool
}

func (u NetNSUpdate) apply(s *Store, snap *Snapshot) {
	snap.NetNS = nil
	if u.NetNS != nil {
		n := *u.NetNS
		snap.NetNS = &n
	}
	if !u.Switch {
		return
	}
	s.nsGen++
	s.setSockets(snap, []Socket{}, nil)
	s.setFlows(snap, []Flow{}, nil)
	snap.Sysctls = []Sysctl{}
	snap.Conntrack, snap.Capture, snap.Rules, snap.SysctlChanges = ConntrackStats{}, CaptureStats{}, nil, nil
	snap.IPsec, snap.NFTables = IPsec{}, NFTables{}
	// Counters: every collector's set goes but the drop monitor's.
	for name, set := range s.bySet {
		if len(set) > 0 && set[0].Source == dropMonitorSource {
			continue
		}
		for _, c := range set {
			delete(s.counters, c.Key())
		}
		delete(s.bySet, name)
		delete(s.orders, name)
	}
	s.countersStale = true
	snap.Counters = nil // until Store.current merges bySet
}

// dropMonitorSource is the Source of the drop monitor's counters
// (dropmon.CounterSource): the whole host's, kept across a switch.
const dropMonitorSource = "drop_monitor"
