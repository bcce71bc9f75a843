// Package dropmon reads the kernel's drop monitor: the NET_DM generic
// netlink family (net/core/drop_monitor.c, what dropwatch(1) uses), which
// reports every packet the stack frees as dropped, with the code location
// that dropped it and, from Linux 5.18, its drop reason
// (include/net/dropreason-core.h: NETFILTER_DROP, TCP_CSUM, NO_SOCKET, ...).
//
// The Collector opens two sockets: a control socket that configures the
// monitor (NET_DM_CMD_CONFIG: alert mode, truncation, queue length) and
// starts it (NET_DM_CMD_START with NET_DM_ATTR_SW_DROPS), and an events
// socket that joins the family's "events" multicast group and is read by
// one goroutine. It aggregates what it reads per (reason, location,
// origin) and, on every Collect, publishes a model.DropsUpdate with the
// aggregates and their deltas since the previous Collect, and a
// model.CountersUpdate with one counter per drop reason (source
// "drop_monitor", group "reason", layer by reason: see LayerOf) so the
// reasons join the drop funnel with deltas, rates and histories.
//
// Modes: in packet mode (NET_DM_ALERT_MODE_PACKET) the kernel sends one
// NET_DM_CMD_PACKET_ALERT per dropped packet, carrying NET_DM_ATTR_PC,
// NET_DM_ATTR_SYMBOL ("%pS": "nf_hook_slow+0x9c/0x140") and, from 5.18,
// NET_DM_ATTR_REASON; the payload is truncated to one byte since netlens
// does not look at it. In summary mode (NET_DM_ALERT_MODE_SUMMARY, the
// only mode before 5.4) it sends NET_DM_CMD_ALERT about once a second with
// a struct net_dm_alert_msg of (pc, count) points and no reason or symbol;
// the Collector resolves those addresses through /proc/kallsyms when it
// may read the addresses there (CAP_SYSLOG, kptr_restrict), else keeps
// them in hex.
// ModeAuto asks for packet mode and falls back to summary when the kernel
// refuses.
//
// A slow reader: the kernel queues alerts on the events socket; when its
// receive buffer (Options.ReadBuffer, 4 MiB by default) is full the kernel
// discards them and the next read fails with ENOBUFS. netlens counts each
// such failure in DropMonitor.Lost and goes on reading: the aggregates
// then undercount, and the Drops tab says so. In packet mode the kernel
// also queues at most Options.QueueLen alerts per CPU and discards the
// rest; Collect reads its count of those (NET_DM_CMD_STATS_GET) into
// DropMonitor.QueueDropped.
//
// Kernel facts that bound what this can do: the family exists only with
// CONFIG_NET_DROP_MONITOR (Collect then fails with ErrNotSupported,
// "kernel has no drop monitor (CONFIG_NET_DROP_MONITOR)"); it lives in
// the initial network namespace only, and reports the drops of every
// namespace; configuring and starting it needs CAP_NET_ADMIN, and joining
// "events" needs CAP_SYS_ADMIN on kernels that flag the group
// GENL_MCAST_CAP_SYS_ADMIN (ErrPermission, "needs CAP_NET_ADMIN"). The
// monitor is global: if another tool (dropwatch) has already started it,
// START fails and netlens listens to the alerts that tool asked for
// without reconfiguring or stopping it. Close stops the monitor only if
// this Collector started it.
//
// Testing: unit tests run against a fake kernel (genltest) and decode
// real NET_DM messages under testdata/; the integration tests need a
// kernel with the drop monitor, and vmtest/run.sh boots one in qemu
// (Debian's 6.1, CONFIG_NET_DROP_MONITOR=m) when the machine's own has
// none: there they check NO_SOCKET drops (packet mode), NETFILTER_DROP
// from an nftables drop policy, and summary mode.
package dropmon
