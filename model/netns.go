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
	// Gone is set once the namespace has disappeared while selected: the
	// data shown are the last read.
	Gone bool `json:"gone,omitempty"`
}

// NetNSUpdate sets the namespace the collectors read (nil: netlens's
// own).
type NetNSUpdate struct {
	NetNS *NetNS
}

func (u NetNSUpdate) apply(_ *Store, snap *Snapshot) {
	if u.NetNS != nil {
		n := *u.NetNS
		snap.NetNS = &n
		return
	}
	snap.NetNS = nil
}
