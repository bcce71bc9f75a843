package netns

import "netlens/model"

// Model returns what the header shows and the snapshot records of the
// namespace.
func (n *Namespace) Model() *model.NetNS {
	m := &model.NetNS{Inode: n.Inode, Path: n.EnterPath, PID: n.PID}
	if len(n.Names) > 0 {
		m.Name = n.Names[0]
	}
	if c := n.Container; c != nil {
		m.Runtime = c.Runtime
		m.Container = c.Name
		if m.Container == "" && c.ID != "" {
			m.Container = (&Container{ID: c.ID}).Short()
		}
		switch {
		case c.PodName != "" && c.PodNamespace != "":
			m.Pod = c.PodNamespace + "/" + c.PodName
		case c.PodUID != "":
			m.Pod = "pod " + c.PodUID
		}
	}
	return m
}
