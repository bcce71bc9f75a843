package qdisc

import "netlens/model"

// rtnetlink message types (include/uapi/linux/rtnetlink.h).
const (
	rtmGetLink  = 18 // RTM_GETLINK
	rtmNewLink  = 16 // RTM_NEWLINK
	rtmGetQdisc = 38 // RTM_GETQDISC
	rtmNewQdisc = 36 // RTM_NEWQDISC
	rtmNewStats = 92 // RTM_NEWSTATS
	rtmGetStats = 94 // RTM_GETSTATS
)

// Sizes of the fixed headers that precede the attributes.
const (
	sizeofIfinfomsg  = 16 // struct ifinfomsg
	sizeofTcmsg      = 20 // struct tcmsg
	sizeofIfStatsMsg = 12 // struct if_stats_msg
)

// iflaStatsLink64 is IFLA_STATS_LINK_64, the struct rtnl_link_stats64
// attribute of RTM_NEWSTATS; filterLink64 asks for it alone
// (IFLA_STATS_FILTER_BIT(IFLA_STATS_LINK_64)).
const (
	iflaStatsLink64 = 1
	filterLink64    = 1 << (iflaStatsLink64 - 1)
)

// linkAttr is an IFLA_* attribute type (include/uapi/linux/if_link.h).
type linkAttr uint16

const (
	iflaIfname  linkAttr = 3  // IFLA_IFNAME
	iflaStats64 linkAttr = 23 // IFLA_STATS64
)

// tcaAttr is a TCA_* attribute type (include/uapi/linux/rtnetlink.h).
type tcaAttr uint16

const (
	tcaKind    tcaAttr = 1 // TCA_KIND
	tcaOptions tcaAttr = 2 // TCA_OPTIONS
	tcaStats   tcaAttr = 3 // TCA_STATS (struct tc_stats)
	tcaXstats  tcaAttr = 4 // TCA_XSTATS
	tcaStats2  tcaAttr = 7 // TCA_STATS2 (nested TCA_STATS_*)
)

// tcaStatsAttr is a TCA_STATS_* attribute type nested in TCA_STATS2
// (include/uapi/linux/gen_stats.h).
type tcaStatsAttr uint16

const (
	tcaStatsBasic     tcaStatsAttr = 1 // TCA_STATS_BASIC (struct gnet_stats_basic)
	tcaStatsRateEst   tcaStatsAttr = 2 // TCA_STATS_RATE_EST
	tcaStatsQueue     tcaStatsAttr = 3 // TCA_STATS_QUEUE (struct gnet_stats_queue)
	tcaStatsApp       tcaStatsAttr = 4 // TCA_STATS_APP
	tcaStatsRateEst64 tcaStatsAttr = 5 // TCA_STATS_RATE_EST64
	tcaStatsPad       tcaStatsAttr = 6 // TCA_STATS_PAD
	tcaStatsBasicHW   tcaStatsAttr = 7 // TCA_STATS_BASIC_HW
	tcaStatsPkt64     tcaStatsAttr = 8 // TCA_STATS_PKT64 (u64 packets)
)

// Sizes of the structs carried in attributes.
const (
	sizeofGnetStatsBasic = 16 // struct gnet_stats_basic: __u64 bytes; __u32 packets; (padded)
	sizeofGnetStatsQueue = 20 // struct gnet_stats_queue: qlen, backlog, drops, requeues, overlimits
	sizeofTcStats        = 36 // struct tc_stats: __u64 bytes; __u32 packets, drops, overlimits, bps, pps, qlen, backlog
)

// Handles (include/uapi/linux/pkt_sched.h).
const (
	tcHRoot    = 0xFFFFFFFF // TC_H_ROOT
	tcHIngress = 0xFFFFFFF1 // TC_H_INGRESS (also TC_H_CLSACT)
	tcHUnspec  = 0          // TC_H_UNSPEC
)

// linkStatNames names the __u64 fields of struct rtnl_link_stats64 in
// order, as /sys/class/net/IFACE/statistics names its files. Kernels add
// fields at the end (rx_nohandler in 4.6, rx_otherhost_dropped in 6.0);
// the attribute's length says how many there are.
var linkStatNames = model.LinkStatNames
