// Package netns finds every network namespace on the host without asking
// a container runtime's daemon, and says what lives in each: its inode,
// its names, the container and Kubernetes pod that own it, its main
// process, its interfaces with their addresses, and its socket counts.
//
// Sources, all read-only:
//
//   - named namespaces: the bind mounts in /run/netns (ip netns) and
//     /var/run/docker/netns (Docker);
//   - namespaces held by processes: /proc/PID/ns/net of every process,
//     grouped by inode;
//   - namespaces held only by a bind mount elsewhere: the nsfs entries of
//     /proc/PID/mountinfo, one file per mount namespace, where readable;
//   - container identity: the cgroup path of the namespace's lowest PID
//     (/proc/PID/cgroup): Docker (docker-ID.scope, /docker/ID),
//     containerd/CRI (cri-containerd-ID.scope), CRI-O (crio-ID.scope),
//     Kubernetes pods (kubepods...podUID), Podman (libpod-ID.scope),
//     systemd-nspawn/machined (machine-NAME.scope), LXC (lxc.payload.NAME);
//   - human names, from runtime state files where they exist, never a
//     daemon API: Docker's /var/lib/docker/containers/ID/config.v2.json
//     ("Name"), Podman's
//     /var/lib/containers/storage/overlay-containers/containers.json
//     ("names"), and the kubelet's pod log directories
//     /var/log/pods/NAMESPACE_NAME_UID.
//
// Interfaces, addresses and socket counts need entering the namespace
// (setns, CAP_SYS_ADMIN); without it a namespace that has a process still
// gets its socket counts from /proc/PID/net/sockstat, and is marked as
// not enterable with the reason.
//
// Parsing is split from reading: the parse functions are pure and are
// what the tests and fuzzers call. Discover is safe for concurrent use.
package netns
