// Package sockets collects the host's TCP, UDP, UDP-Lite and RAW sockets
// over IPv4 and IPv6, with the processes that hold them, and publishes them
// as model.SocketsUpdate.
//
// The primary source is sock_diag (INET_DIAG over NETLINK_SOCK_DIAG, what
// ss(8) uses): one dump per protocol and family, decoded straight from the
// receive buffer. When sock_diag is unavailable (no inet_diag module, a
// seccomp or LSM policy that denies it) the collector falls back to the
// text tables /proc/net/{tcp,tcp6,udp,udp6,udplite,udplite6,raw,raw6}; its
// Source says which one it used.
//
// TCP dumps also ask for INET_DIAG_INFO and INET_DIAG_CONG: each TCP
// socket's struct tcp_info, decoded by length (older kernels send a
// shorter struct; tcpinfo.go), and its congestion control. From one
// collection to the next the rate tracker (rates.go), keyed by socket
// cookie, turns the byte and retransmit counters into per-second rates
// and the busy and limited times into a send-limit breakdown; a socket
// seen for the first time has no rate yet. UDP, UDP-Lite and raw dumps
// ask for no tcp_info (they have none), and /proc/net has none: there
// Socket.Rate stays unknown. A collection's tcp_info and rates live in
// one slab each (slab.go), which the published sockets point into.
//
// Owners (which process holds which socket, as `ss -p` shows) come from
// the socket:[inode] links under /proc/PID/fd, kept in a cache that is
// refreshed incrementally: a process's fd directory is listed only when its
// fd count changed or one of its sockets left the table (and every 16th
// collection), and only fd numbers that are new, or whose cached socket
// has left the table, are resolved again with readlink. Where a BPF
// task_file iterator loads (root or CAP_BPF+CAP_PERFMON, a kernel with
// BTF, the initial PID namespace; sockfds.go), it fills the empty cache
// in one read instead of a readlink per descriptor. Each process's
// container (its cgroup path read as the namespace discovery reads it,
// collectors/internal/container) is read once, when the cache first sees
// the process, and carried on model.Proc. See owners.go.
//
// Options.NoTCPInfo leaves tcp_info out of the TCP dumps: no rates, for a
// cheaper dump on hosts with very many sockets (--no-tcp-info).
//
// New(Options{}) is what netlens runs; Collector.Note says what the user
// should know beyond the source (e.g. owners hidden by missing privileges).
//
// The collector works on one network namespace: the caller's, or the one
// given by Options.NetNS. Processes are those of Options.ProcRoot.
package sockets
