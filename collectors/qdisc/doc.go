// Package qdisc reads traffic-control queueing discipline statistics and
// interface statistics over rtnetlink, as `tc -s qdisc` and `ip -s link`
// print them, in the network namespace of the caller (or of Options.NetNS).
//
// One collection is up to three dumps on one NETLINK_ROUTE socket:
//
//	RTM_GETSTATS  with Options.Links, every interface's struct
//	              rtnl_link_stats64 (IFLA_STATS_LINK_64 only)
//	RTM_GETLINK   every interface's name (IFLA_IFNAME); a full link dump
//	              costs ten times the stats dump, so it is done only on
//	              the first sample, every NamesEvery samples (renames)
//	              and when an ifindex it does not know shows up. Kernels
//	              before 4.7 (no RTM_GETSTATS) take the statistics from
//	              it (IFLA_STATS64) on every sample.
//	RTM_GETQDISC  every qdisc: TCA_KIND and TCA_STATS2 with
//	              TCA_STATS_BASIC (bytes, packets) and TCA_STATS_QUEUE
//	              (qlen, backlog, drops, requeues, overlimits); the older
//	              TCA_STATS struct when TCA_STATS2 is absent
//
// A dump the kernel flags NLM_F_DUMP_INTR (interfaces or qdiscs changed
// while it ran) is retried a few times and then used as it is.
//
// Qdisc counters have Layer qdisc, Source "rtnetlink", Group "qdisc",
// Instance "DEV KIND HANDLE PARENT" ("veth0 tbf 8001: root",
// "eth0 pfifo 8002: parent 8001:1", as tc prints them) and the names tc
// uses: drops, overlimits, requeues, bytes, packets (counters), backlog
// (bytes queued) and qlen (packets queued) (gauges). The kernel keeps
// drops, overlimits, requeues and, without TCA_STATS_PKT64, packets in 32
// bits; the Collector widens them to 64 so that a wrap is not a reset.
//
// Link counters (Options.Links) have Layer nic, Source "rtnetlink", Group
// "statistics", Instance the interface and the field names of
// /sys/class/net/IFACE/statistics (rx_dropped, rx_missed_errors, ...): the
// same values sysfs shows, for all interfaces in one dump instead of ~25
// file reads per interface, and from the caller's network namespace
// rather than the one sysfs was mounted in.
//
// Attribute decoding is defensive: short or malformed attributes are
// skipped or reported, never trusted; the decoders are fuzzed.
package qdisc
