// Package container reads who owns a process from its cgroup path: the
// container runtime and ID (Docker, containerd, CRI-O, Podman, machined,
// LXC) and the Kubernetes pod, as /proc/PID/cgroup names them. It is
// shared by namespace discovery (collectors/netns) and the socket owner
// cache (collectors/sockets), so both name a container the same way.
// Its functions are pure and safe for concurrent use.
package container
