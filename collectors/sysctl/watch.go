package sysctl

// Watch is an entry of the watch list: a sysctl that matters when
// troubleshooting, and why.
type Watch struct {
	Name string // dotted: "net.core.somaxconn"
	Why  string // what it governs, in a line
}

// WatchList is the curated list of sysctls worth watching, roughly in the
// order a packet meets them. Entries a kernel lacks (nf_conntrack_* with
// the module unloaded) are simply not in the table.
var WatchList = []Watch{
	// Device and softnet.
	{"net.core.netdev_max_backlog", "per-CPU input queue length; packets beyond it count in softnet_stat dropped"},
	{"net.core.netdev_budget", "packets one NET_RX softirq may process; running out counts in softnet_stat time_squeeze"},
	{"net.core.netdev_budget_usecs", "time one NET_RX softirq may run; running out counts in softnet_stat time_squeeze"},
	{"net.core.dev_weight", "packets the per-CPU backlog (non-NAPI drivers, RPS) may process per NAPI round"},
	{"net.core.flow_limit_table_len", "size of the per-CPU flow table of flow limiting; its drops count in softnet_stat flow_limit_count"},
	{"net.core.rps_sock_flow_entries", "size of the RFS global flow table; 0 disables Receive Flow Steering"},
	{"net.core.default_qdisc", "queueing discipline given to new interfaces (fq, fq_codel, pfifo_fast)"},
	{"net.core.busy_poll", "microseconds poll/select busy-poll the device queue; 0 is off"},

	// IP.
	{"net.ipv4.ip_forward", "1 routes IPv4 packets between interfaces; 0 and this host is not a router"},
	{"net.ipv6.conf.all.forwarding", "1 routes IPv6 packets between interfaces (and stops accepting router advertisements)"},
	{"net.ipv4.conf.all.rp_filter", "reverse-path filter, 1 strict, 2 loose; an interface uses max(all, its own); drops count in TcpExt IPReversePathFilter"},
	{"net.ipv4.conf.default.rp_filter", "reverse-path filter given to new interfaces (see conf.all.rp_filter)"},
	{"net.ipv4.conf.all.log_martians", "1 logs packets with impossible addresses (what rp_filter drops)"},
	{"net.ipv4.conf.all.arp_filter", "1 answers ARP only on the interface that routes to the asker; drops count in TcpExt ArpFilter"},
	{"net.ipv4.conf.all.arp_ignore", "which ARP requests are answered (1: only for addresses on the receiving interface)"},
	{"net.ipv4.conf.all.arp_announce", "which source address ARP requests use (2: the best one for the target)"},
	{"net.ipv4.ip_default_ttl", "TTL of packets this host sends"},
	{"net.ipv4.ip_nonlocal_bind", "1 lets sockets bind addresses the host does not have (VIPs before failover)"},
	{"net.ipv6.conf.all.disable_ipv6", "1 turns IPv6 off on every interface"},
	{"net.ipv4.ipfrag_high_thresh", "bytes of IPv4 fragments held for reassembly; beyond it fragments are dropped (Ip ReasmFails)"},
	{"net.ipv4.ipfrag_time", "seconds an incomplete IPv4 datagram is kept (Ip ReasmTimeout)"},
	{"net.ipv6.ip6frag_high_thresh", "bytes of IPv6 fragments held for reassembly; beyond it fragments are dropped (Ip6 ReasmFails)"},
	{"net.ipv4.neigh.default.gc_thresh1", "ARP entries below which garbage collection does not run"},
	{"net.ipv4.neigh.default.gc_thresh2", "soft ARP table limit: the table may stay above it for 5 s before garbage collection runs"},
	{"net.ipv4.neigh.default.gc_thresh3", "hard ARP table limit: beyond it new neighbours fail ('neighbour table overflow')"},
	{"net.ipv6.neigh.default.gc_thresh3", "hard IPv6 neighbour table limit: beyond it new neighbours fail"},
	{"net.ipv4.icmp_ratelimit", "milliseconds per token of the per-host ICMP rate limit (types in icmp_ratemask); limited ones count in Icmp OutRateLimitHost"},
	{"net.ipv4.icmp_msgs_per_sec", "host-wide cap on ICMP messages sent per second; Icmp OutRateLimitGlobal"},

	// Netfilter.
	{"net.netfilter.nf_conntrack_max", "conntrack table size; when full new flows are dropped ('nf_conntrack: table full, dropping packet')"},
	{"net.netfilter.nf_conntrack_count", "flows tracked now; compare with nf_conntrack_max"},
	{"net.netfilter.nf_conntrack_buckets", "conntrack hash table buckets; chains grow long when far below nf_conntrack_max"},
	{"net.netfilter.nf_conntrack_tcp_timeout_established", "seconds an idle established TCP flow stays in the table (default 5 days)"},
	{"net.netfilter.nf_conntrack_udp_timeout_stream", "seconds an idle bidirectional UDP flow stays in the table"},
	{"net.bridge.bridge-nf-call-iptables", "1 passes bridged IPv4 traffic through iptables/nftables (container hosts need it)"},

	// Sockets and transport.
	{"net.core.somaxconn", "cap on a listen() backlog; a full accept queue counts in TcpExt ListenOverflows and ListenDrops"},
	{"net.ipv4.tcp_max_syn_backlog", "half-open connections a listener queues; when full SYNs are dropped or answered with cookies"},
	{"net.ipv4.tcp_syncookies", "1 answers SYNs with cookies when the SYN queue is full (TcpExt SyncookiesSent)"},
	{"net.ipv4.tcp_abort_on_overflow", "1 resets connections the full accept queue cannot take, instead of dropping the ACK"},
	{"net.core.rmem_default", "receive buffer of a new socket, bytes (UDP; TCP uses tcp_rmem)"},
	{"net.core.rmem_max", "largest receive buffer SO_RCVBUF may set; a full buffer drops (Udp RcvbufErrors)"},
	{"net.core.wmem_default", "send buffer of a new socket, bytes (UDP; TCP uses tcp_wmem)"},
	{"net.core.wmem_max", "largest send buffer SO_SNDBUF may set (Udp SndbufErrors)"},
	{"net.core.optmem_max", "ancillary buffer per socket (control messages, socket filters, zerocopy)"},
	{"net.ipv4.tcp_rmem", "TCP receive buffer min, default, max in bytes: the range of receive autotuning"},
	{"net.ipv4.tcp_wmem", "TCP send buffer min, default, max in bytes"},
	{"net.ipv4.tcp_mem", "pages all TCP sockets may use: low, pressure, high; above high sends and receives fail (TcpExt TCPMemoryPressures, TCPAbortOnMemory)"},
	{"net.ipv4.udp_mem", "pages all UDP sockets may use: low, pressure, high; above high datagrams are dropped (Udp MemErrors)"},
	{"net.ipv4.udp_rmem_min", "receive buffer a UDP socket keeps even under memory pressure"},
	{"net.ipv4.ip_local_port_range", "ephemeral ports for outgoing connections; exhausted, connect() fails with EADDRNOTAVAIL"},
	{"net.ipv4.ip_local_reserved_ports", "ports never chosen as ephemeral ports"},
	{"net.ipv4.tcp_tw_reuse", "1 lets new outgoing connections reuse TIME-WAIT ports when safe (2: loopback only)"},
	{"net.ipv4.tcp_max_tw_buckets", "TIME-WAIT sockets kept at most; beyond it they are destroyed at once (TcpExt TCPTimeWaitOverflow)"},
	{"net.ipv4.tcp_fin_timeout", "seconds an orphaned connection stays in FIN-WAIT-2"},
	{"net.ipv4.tcp_max_orphans", "connections not attached to any process kept at most; beyond it they are reset"},
	{"net.ipv4.tcp_keepalive_time", "seconds idle before TCP keepalive probes start (on sockets with SO_KEEPALIVE)"},
	{"net.ipv4.tcp_keepalive_intvl", "seconds between TCP keepalive probes"},
	{"net.ipv4.tcp_keepalive_probes", "unanswered keepalive probes before the connection is dropped"},
	{"net.ipv4.tcp_syn_retries", "SYN retransmissions of an outgoing connect before it fails (~2^n s in all)"},
	{"net.ipv4.tcp_synack_retries", "SYN-ACK retransmissions for a half-open incoming connection"},
	{"net.ipv4.tcp_retries2", "retransmissions of data before an established connection is dropped (15: about 15 minutes)"},
	{"net.ipv4.tcp_congestion_control", "congestion control of new TCP connections (cubic, bbr, ...)"},
	{"net.ipv4.tcp_timestamps", "TCP timestamps (RFC 7323); needed by tcp_tw_reuse and PAWS"},
	{"net.ipv4.tcp_sack", "selective acknowledgements"},
	{"net.ipv4.tcp_window_scaling", "window scaling; off caps the window at 64 KiB"},
	{"net.ipv4.tcp_mtu_probing", "path MTU probing (1: after an ICMP black hole is suspected); helps where ICMP is filtered"},
	{"net.ipv4.tcp_slow_start_after_idle", "1 shrinks the congestion window after idle: long-lived bursty connections slow down"},
	{"net.ipv4.tcp_ecn", "explicit congestion notification (1: request and accept, 2: accept only)"},
	{"net.unix.max_dgram_qlen", "datagrams a Unix datagram socket queues before senders block or fail"},
}

// watchIndex maps a watched name to its Why.
var watchIndex = func() map[string]string {
	m := make(map[string]string, len(WatchList))
	for _, w := range WatchList {
		m[w.Name] = w.Why
	}
	return m
}()
