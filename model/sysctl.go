package model

// Sysctl is one entry under /proc/sys/net in dotted form.
type Sysctl struct {
	Name    string `json:"name"` // "net.core.somaxconn"
	Value   string `json:"value"`
	Watched bool   `json:"watched"`
	// Why says, for a watched entry, what it governs.
	Why string `json:"why,omitempty"`
}
