/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * netlens.h - generic netlink protocol of the netlens kernel module.
 *
 * This header is the one source of truth for the protocol: the Go client in
 * collectors/kmod mirrors every value below and a test keeps it equal.
 *
 * Family name "netlens", version 1, multicast group "events".
 * Every attribute is a plain TLV; there are no binary structs.  Addresses are
 * raw network-order bytes (4 for IPv4, 16 for IPv6), like IFA_ADDRESS.
 * u64 attributes are 64-bit aligned with NETLENS_A_PAD.
 */
#ifndef _UAPI_LINUX_NETLENS_H
#define _UAPI_LINUX_NETLENS_H

#define NETLENS_GENL_NAME		"netlens"
#define NETLENS_GENL_VERSION		1
#define NETLENS_GENL_MCGRP_EVENTS	"events"
#define NETLENS_GENL_MCGRP_PACKETS	"packets"	/* the packet log: CMD_PACKET */

#define NETLENS_LABEL_MAX		64	/* bytes, without the NUL */
#define NETLENS_REVERT_MS_MAX		3600000	/* one hour */
#define NETLENS_LOG_RATE_DEFAULT	10	/* packet log events per second of a rule */
#define NETLENS_LOG_RATE_MAX		100000

enum netlens_cmd {
	NETLENS_CMD_UNSPEC,
	NETLENS_CMD_CREATE,	/* rule attrs [+ REVERT_MS] -> reply: rule */
	NETLENS_CMD_DELETE,	/* RULE_ID */
	NETLENS_CMD_CHANGE,	/* RULE_ID + attrs to change [+ REVERT_MS] -> reply: rule */
	NETLENS_CMD_GET,	/* doit: RULE_ID -> rule; dumpit: every rule */
	NETLENS_CMD_COUNTERS,	/* -> nested HOOK_STATS */
	NETLENS_CMD_FLUSH,	/* delete every rule of the namespace */
	NETLENS_CMD_CONFIRM,	/* TXN_ID: keep a change made with REVERT_MS */
	NETLENS_CMD_EVENT,	/* multicast only: EVENT + rule attrs */
	NETLENS_CMD_POLICY,	/* POLICY_FAMILY + POLICY_HOOK + POLICY_VERDICT [+ REVERT_MS] -> reply: TXN_ID when reverting */
	NETLENS_CMD_GET_SET,	/* dumpit: RULE_ID + SET_FIELD -> the set's elements, in chunks */
	NETLENS_CMD_PACKET,	/* multicast only (group "packets"): RULE_ID + PKT_* of one logged packet */

	__NETLENS_CMD_MAX,
};
#define NETLENS_CMD_MAX (__NETLENS_CMD_MAX - 1)

enum netlens_attr {
	NETLENS_A_UNSPEC,
	NETLENS_A_PAD,			/* pad for u64 alignment */
	NETLENS_A_RULE_ID,		/* u32, kernel-assigned, never 0 */
	NETLENS_A_RULE_ENABLED,		/* u8, 0 or 1 */
	NETLENS_A_RULE_HOOKS,		/* u32, mask of 1 << NF_INET_* hook */
	NETLENS_A_RULE_FAMILY,		/* u8, enum netlens_family */
	NETLENS_A_RULE_PROTO,		/* u8, IPPROTO_*, 0 = any */
	NETLENS_A_RULE_SRC_ADDR,	/* binary, 4 or 16 bytes */
	NETLENS_A_RULE_SRC_PLEN,	/* u8, prefix length */
	NETLENS_A_RULE_DST_ADDR,	/* binary, 4 or 16 bytes */
	NETLENS_A_RULE_DST_PLEN,	/* u8, prefix length */
	NETLENS_A_RULE_SPORT_MIN,	/* u16, host order */
	NETLENS_A_RULE_SPORT_MAX,	/* u16, host order */
	NETLENS_A_RULE_DPORT_MIN,	/* u16, host order */
	NETLENS_A_RULE_DPORT_MAX,	/* u16, host order */
	NETLENS_A_RULE_IIFNAME,		/* string, input interface, "" = any */
	NETLENS_A_RULE_OIFNAME,		/* string, output interface, "" = any */
	NETLENS_A_RULE_ACTION,		/* u8, enum netlens_action */
	NETLENS_A_RULE_PRIORITY,	/* u32, lower runs first, ties by id */
	NETLENS_A_RULE_LABEL,		/* string, at most NETLENS_LABEL_MAX bytes */
	NETLENS_A_RULE_PACKETS,		/* u64, read-only */
	NETLENS_A_RULE_BYTES,		/* u64, read-only */
	NETLENS_A_RULE_LAST_HIT_NS,	/* u64, read-only, CLOCK_REALTIME ns, 0 = never */
	NETLENS_A_REVERT_MS,		/* u32, revert deadline of a create/change; in a rule: ms left */
	NETLENS_A_TXN_ID,		/* u32, commit-confirmed transaction to CONFIRM */
	NETLENS_A_EVENT,		/* u8, enum netlens_event */
	NETLENS_A_HOOK_STATS,		/* nested, one per family and hook: NETLENS_A_HS_* */
	NETLENS_A_RULE_COUNT,		/* u32, read-only, rules in the namespace */
	NETLENS_A_HOOKS_REGISTERED,	/* u32, read-only, netfilter hooks the namespace has now (0 without rules) */
	NETLENS_A_RULE_REJECT_WITH,	/* u8, enum netlens_reject, ACTION_REJECT only (default ICMP unreachable) */
	NETLENS_A_RULE_REJECT_CODE,	/* u8, ICMP (0..15) or ICMPv6 (0..6) unreachable code; one family only */
	NETLENS_A_RULE_ICMP_TYPE,	/* u8, ICMP or ICMPv6 type; needs protocol icmp (1) or icmpv6 (58) */
	NETLENS_A_RULE_ICMP_CODE,	/* u8, ICMP or ICMPv6 code; needs ICMP_TYPE */
	NETLENS_A_RULE_TCP_FLAGS,	/* u8, the TCP flags of TCP_FLAGS_MASK that must be set; needs protocol tcp */
	NETLENS_A_RULE_TCP_FLAGS_MASK,	/* u8, the TCP flags looked at (FIN 0x01 .. CWR 0x80); 0 = none */
	NETLENS_A_RULE_NEGATE,		/* u32, mask of NETLENS_NEG_*: those matches hold when they do not match */
	NETLENS_A_RULE_CT_STATE,	/* u8, mask of NETLENS_CT_*: the packet's conntrack state is one of them */
	NETLENS_A_POLICY_FAMILY,	/* u8, NETLENS_FAMILY_IPV4 or _IPV6 */
	NETLENS_A_POLICY_HOOK,		/* u8, NF_INET_* hook number */
	NETLENS_A_POLICY_VERDICT,	/* u8, NETLENS_ACTION_ACCEPT or _DROP: what no rule decides */
	NETLENS_A_RULE_SRC_SET,		/* nested NETLENS_A_SET_PREFIX: source in the set; empty = no set */
	NETLENS_A_RULE_DST_SET,		/* nested NETLENS_A_SET_PREFIX: destination in the set; empty = no set */
	NETLENS_A_RULE_SPORT_SET,	/* nested NETLENS_A_SET_PORT: source port in the set; empty = no set */
	NETLENS_A_RULE_DPORT_SET,	/* nested NETLENS_A_SET_PORT: destination port in the set; empty = no set */
	NETLENS_A_RULE_SRC_SET_SIZE,	/* u32, read-only, elements of the source set (0 = none) */
	NETLENS_A_RULE_DST_SET_SIZE,	/* u32, read-only, elements of the destination set */
	NETLENS_A_RULE_SPORT_SET_SIZE,	/* u32, read-only, elements of the source port set */
	NETLENS_A_RULE_DPORT_SET_SIZE,	/* u32, read-only, elements of the destination port set */
	NETLENS_A_SET_FIELD,		/* u8, enum netlens_set_field: which set GET_SET lists */
	NETLENS_A_RULE_LOG,		/* u8, 0 or 1: send matched packets to the "packets" group */
	NETLENS_A_RULE_LOG_RATE,	/* u32, log events per second (1..NETLENS_LOG_RATE_MAX), burst as many */
	NETLENS_A_RULE_LOG_DROPPED,	/* u64, read-only, matched packets not logged: over the rate, or no memory */
	NETLENS_A_PKT_HOOK,		/* u8, NF_INET_* hook of a logged packet */
	NETLENS_A_PKT_IIF,		/* u32, input ifindex (0 = none) */
	NETLENS_A_PKT_OIF,		/* u32, output ifindex (0 = none) */
	NETLENS_A_PKT_VERDICT,		/* u8, enum netlens_action: what the rule did (COUNT: went on) */
	NETLENS_A_PKT_FAMILY,		/* u8, NETLENS_FAMILY_IPV4 or _IPV6 */
	NETLENS_A_PKT_PROTO,		/* u8, IPPROTO_* */
	NETLENS_A_PKT_SRC,		/* binary, 4 or 16 bytes */
	NETLENS_A_PKT_DST,		/* binary, 4 or 16 bytes */
	NETLENS_A_PKT_SPORT,		/* u16, host order; tcp/udp/udplite/sctp only */
	NETLENS_A_PKT_DPORT,		/* u16, host order; tcp/udp/udplite/sctp only */
	NETLENS_A_PKT_LEN,		/* u32, bytes from the network header */
	NETLENS_A_PKT_TCP_FLAGS,	/* u8, tcp only */
	NETLENS_A_PKT_CT_STATE,		/* u8, a NETLENS_CT_* bit */
	NETLENS_A_PKT_TIME_NS,		/* u64, CLOCK_REALTIME ns when the rule matched */
	NETLENS_A_PKT_ICMP_TYPE,	/* u8, icmp/icmpv6 only */
	NETLENS_A_PKT_ICMP_CODE,	/* u8, icmp/icmpv6 only */

	__NETLENS_A_MAX,
};
#define NETLENS_A_MAX (__NETLENS_A_MAX - 1)

/*
 * Sets: a rule may match its source or destination against a set of
 * prefixes, and its source or destination port against a set of ports,
 * each looked up in O(1).  A set belongs to its rule (no named sets).
 */
#define NETLENS_SET_MAX			65536	/* elements in one set */

/* attributes nested in NETLENS_A_RULE_{SRC,DST,SPORT,DPORT}_SET */
enum netlens_set_attr {
	NETLENS_A_SET_UNSPEC,
	NETLENS_A_SET_PREFIX,		/* nested NETLENS_A_PFX_*: one prefix (address sets) */
	NETLENS_A_SET_PORT,		/* u16, host order: one port (port sets) */

	__NETLENS_A_SET_MAX,
};
#define NETLENS_A_SET_MAX (__NETLENS_A_SET_MAX - 1)

/* attributes nested in NETLENS_A_SET_PREFIX */
enum netlens_pfx_attr {
	NETLENS_A_PFX_UNSPEC,
	NETLENS_A_PFX_ADDR,		/* binary, 4 or 16 bytes; every element of a set has one family */
	NETLENS_A_PFX_PLEN,		/* u8, 1..32 or 1..128; absent = the whole address (a host) */

	__NETLENS_A_PFX_MAX,
};
#define NETLENS_A_PFX_MAX (__NETLENS_A_PFX_MAX - 1)

/* which set of a rule, for NETLENS_A_SET_FIELD */
enum netlens_set_field {
	NETLENS_SET_SRC,
	NETLENS_SET_DST,
	NETLENS_SET_SPORT,
	NETLENS_SET_DPORT,

	__NETLENS_SET_FIELD_MAX,
};
#define NETLENS_SET_FIELD_MAX (__NETLENS_SET_FIELD_MAX - 1)

/* attributes nested in NETLENS_A_HOOK_STATS */
enum netlens_hook_stats_attr {
	NETLENS_A_HS_UNSPEC,
	NETLENS_A_HS_PAD,		/* pad for u64 alignment */
	NETLENS_A_HS_FAMILY,		/* u8, NETLENS_FAMILY_IPV4 or NETLENS_FAMILY_IPV6 */
	NETLENS_A_HS_HOOK,		/* u8, NF_INET_* hook number */
	NETLENS_A_HS_SEEN,		/* u64, packets that entered the hook (while it was registered) */
	NETLENS_A_HS_ACCEPTED,		/* u64, packets let through */
	NETLENS_A_HS_DROPPED,		/* u64, packets dropped by a DROP rule */
	NETLENS_A_HS_EXAMINED,		/* u64, rules looked at by the lookup (its cost) */
	NETLENS_A_HS_POLICY,		/* u8, the hook's default verdict (NETLENS_ACTION_ACCEPT or _DROP) */
	NETLENS_A_HS_TXN_ID,		/* u32, the unconfirmed policy change of the hook (only while one is pending) */
	NETLENS_A_HS_REVERT_MS,		/* u32, ms left before that change is reverted (with HS_TXN_ID) */

	__NETLENS_A_HS_MAX,
};
#define NETLENS_A_HS_MAX (__NETLENS_A_HS_MAX - 1)

enum netlens_family {
	NETLENS_FAMILY_UNSPEC,
	NETLENS_FAMILY_IPV4,
	NETLENS_FAMILY_IPV6,
	NETLENS_FAMILY_BOTH,
};

enum netlens_action {
	NETLENS_ACTION_UNSPEC,
	NETLENS_ACTION_ACCEPT,	/* stop evaluating, let the packet through */
	NETLENS_ACTION_DROP,	/* stop evaluating, drop the packet */
	NETLENS_ACTION_COUNT,	/* count and continue with the next rule */
	NETLENS_ACTION_REJECT,	/* stop evaluating, drop and answer (TCP reset or ICMP unreachable) */
};

/* how a REJECT rule answers */
enum netlens_reject {
	NETLENS_REJECT_UNSPEC,
	NETLENS_REJECT_ICMP_UNREACH,	/* ICMP/ICMPv6 destination unreachable, REJECT_CODE (default port unreachable) */
	NETLENS_REJECT_TCP_RESET,	/* TCP RST; the rule must match protocol tcp */
};

/* the ICMP codes a REJECT rule without REJECT_CODE sends */
#define NETLENS_REJECT_CODE_DEFAULT4	3	/* ICMP_PORT_UNREACH */
#define NETLENS_REJECT_CODE_DEFAULT6	4	/* ICMPV6_PORT_UNREACH */

/* hooks where a REJECT rule may be (as nft's reject) */
#define NETLENS_HOOK_REJECT_OK		0x0fU	/* PRE_ROUTING, LOCAL_IN, FORWARD, LOCAL_OUT */

enum netlens_event {
	NETLENS_EVENT_UNSPEC,
	NETLENS_EVENT_CREATED,
	NETLENS_EVENT_DELETED,
	NETLENS_EVENT_CHANGED,
	NETLENS_EVENT_FLUSHED,
	NETLENS_EVENT_CONFIRMED,
	NETLENS_EVENT_REVERTED,
	NETLENS_EVENT_POLICY,		/* a default policy changed (or was reverted): POLICY_* attrs */
};

/* matches a rule can negate, as bits of NETLENS_A_RULE_NEGATE */
#define NETLENS_NEG_SRC			(1U << 0)
#define NETLENS_NEG_DST			(1U << 1)
#define NETLENS_NEG_SPORT		(1U << 2)
#define NETLENS_NEG_DPORT		(1U << 3)
#define NETLENS_NEG_IIF			(1U << 4)
#define NETLENS_NEG_OIF			(1U << 5)
#define NETLENS_NEG_ICMP		(1U << 6)
#define NETLENS_NEG_TCP_FLAGS		(1U << 7)
#define NETLENS_NEG_CT			(1U << 8)
#define NETLENS_NEG_ALL			0x1ffU

/* conntrack states, as bits of NETLENS_A_RULE_CT_STATE */
#define NETLENS_CT_NEW			(1U << 0)
#define NETLENS_CT_ESTABLISHED		(1U << 1)
#define NETLENS_CT_RELATED		(1U << 2)
#define NETLENS_CT_INVALID		(1U << 3)
#define NETLENS_CT_UNTRACKED		(1U << 4)
#define NETLENS_CT_ALL			0x1fU

/* hooks, as bits of NETLENS_A_RULE_HOOKS (1 << NF_INET_*) */
#define NETLENS_HOOK_PRE_ROUTING	(1U << 0)
#define NETLENS_HOOK_LOCAL_IN		(1U << 1)
#define NETLENS_HOOK_FORWARD		(1U << 2)
#define NETLENS_HOOK_LOCAL_OUT		(1U << 3)
#define NETLENS_HOOK_POST_ROUTING	(1U << 4)
#define NETLENS_HOOK_ALL		0x1fU

#endif /* _UAPI_LINUX_NETLENS_H */
