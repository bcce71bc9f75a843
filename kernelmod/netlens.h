/* SPDX-License-Identifier: GPL-2.0 */
/*
 * netlens.h - internal declarations of the netlens module.
 *
 * Locking
 * -------
 * Each network namespace has one struct netlens_net.  Its @lock (a mutex)
 * serialises every writer: the generic netlink commands, the revert work and
 * namespace teardown.  Under @lock are: @rules (id -> rule), @nrules, the
 * index chains and tables (writers), @plen_cnt, @idx_n, @txns, @next_txn,
 * @gen and every rule's @txn pointer.
 *
 * The packet path (netlens_hooks.c) takes no lock.  It reads the index tables
 * (@htab) and walks their chains under RCU (the netfilter core holds
 * rcu_read_lock around hooks), reads @plen_map, @ndport and @enabled with
 * READ_ONCE, and adds to per-CPU counters.  A rule is never modified once
 * it is published: a change builds
 * a new struct netlens_rule, links it into the indexes, then unlinks the old
 * one and frees it after a grace period (call_rcu).  The per-CPU @stats of a
 * rule move from the old copy to the new one, so counters survive a change;
 * they are freed only when the rule is deleted (@owns_stats).
 *
 * The hash tables @htab (256 buckets each to start, 10 KiB in all) are
 * allocated by the first command that creates or changes a rule and
 * published with rcu_assign_pointer, so a namespace that never gets a rule
 * costs a few KiB only; each doubles as its index grows (struct
 * netlens_htab), so a chain stays short at any number of rules.
 *
 * Lookup (no linear scan for the common shapes)
 * ----------------------------------------------
 * An enabled rule lives in exactly one index, chosen by its most selective
 * field, in this order:
 *   DST4/DST6  destination prefix: one hash table keyed by (prefix length,
 *              masked address); @plen_map says which lengths are in use, so
 *              a packet costs one bucket probe per length in use (like a
 *              per-length LPM);
 *   DPORT      exact destination port (dport_min == dport_max);
 *   SRC4/SRC6  source prefix, as for DST;
 *   MISC       everything else (a short list, ideally).
 * Every chain is kept sorted by (priority, id), which is the evaluation
 * order of the rules.  A packet probes each candidate chain; the first
 * matching ACCEPT/DROP rule of a chain is that chain's candidate and the
 * walk stops there (or as soon as it passes the best candidate so far).  The
 * smallest (priority, id) over all chains is the verdict, so priority order
 * is exact across indexes.  A second pass over the same chains counts the
 * matching COUNT rules that come before the verdict rule (it is skipped when
 * the namespace has no enabled COUNT rule).  A COUNT rule is only counted
 * in the probe of its own key, so hash collisions never count it twice.
 * A packet that matches nothing costs a few bucket probes, independent of
 * how many rules sit in other buckets.  A hook where no enabled rule of the
 * packet's family applies (@hook_rules) costs a counter increment only.
 */
#ifndef _NETLENS_H
#define _NETLENS_H

#include <linux/types.h>
#include <linux/mutex.h>
#include <linux/xarray.h>
#include <linux/netfilter.h>
#include <linux/netdevice.h>
#include <linux/workqueue.h>
#include <linux/rculist.h>
#include <linux/jhash.h>
#include <linux/hash.h>
#include <net/net_namespace.h>
#include <net/genetlink.h>
#include <net/netns/generic.h>
#include <linux/inetdevice.h>
#include <linux/u64_stats_sync.h>
#include <linux/refcount.h>
#include "uapi/netlens.h"

#define NETLENS_NHOOKS		5	/* NF_INET_NUMHOOKS */
#define NETLENS_MAX_RULES_HARD	(1 << 20)

enum netlens_index {
	NETLENS_IDX_DST4,
	NETLENS_IDX_DST6,
	NETLENS_IDX_SRC4,
	NETLENS_IDX_SRC6,
	NETLENS_IDX_DPORT,
	NETLENS_IDX_HASHED,	/* number of hash tables */
	NETLENS_IDX_MISC = NETLENS_IDX_HASHED,
	NETLENS_IDX_NONE,	/* disabled: not indexed */
};

/*
 * per-CPU counters of one rule; u64_stats_t with a syncp so that a reader on
 * a 32-bit kernel never sees a torn value (as nft counters do).  Writers run
 * with BH disabled, so one CPU never has two writers at once.
 */
struct netlens_rule_stats {
	u64_stats_t packets;
	u64_stats_t bytes;
	u64_stats_t last_hit_ns;
	struct u64_stats_sync syncp;
};

/* the sum over CPUs of struct netlens_rule_stats */
struct netlens_rule_counts {
	u64 packets;
	u64 bytes;
	u64 last_hit_ns;
};

/*
 * per-CPU verdict counters of one namespace, [family 0=v4 1=v6][hook]; a
 * packet seen is either accepted or dropped, so "seen" is their sum (one
 * counter fewer to update per packet)
 */
struct netlens_hook_stats {
	u64_stats_t accepted[2][NETLENS_NHOOKS];
	u64_stats_t dropped[2][NETLENS_NHOOKS];
	u64_stats_t examined[2][NETLENS_NHOOKS];	/* rules the lookup looked at */
	struct u64_stats_sync syncp;
};

/* the sum over CPUs of struct netlens_hook_stats */
struct netlens_hook_counts {
	u64 seen[2][NETLENS_NHOOKS];
	u64 accepted[2][NETLENS_NHOOKS];
	u64 dropped[2][NETLENS_NHOOKS];
	u64 examined[2][NETLENS_NHOOKS];
};

/*
 * struct netlens_set - the elements a rule's source/destination address or
 * port must be one of.  Immutable once built; shared by the copies of a rule
 * (a change that does not touch the set, a transaction's saved copy) through
 * @ref and freed with the last copy, which is itself freed after a grace
 * period (call_rcu), so the packet path reads it under RCU without a lock.
 *
 * Address sets: open addressing with linear probing in @slots (twice the
 * elements, a power of two), keyed by (masked address, prefix length);
 * @plens says which lengths are in use, so a lookup costs one probe per
 * length in use (one for a set of hosts).  Port sets: a 65,536-bit map.
 */
struct netlens_set_slot {
	union nf_inet_addr addr;
	u8 plen;			/* 0: empty slot */
};

struct netlens_set {
	refcount_t ref;
	u32 n;				/* elements */
	u8 family;			/* NETLENS_FAMILY_IPV4/IPV6; 0 for a port set */
	u8 nplens;			/* prefix lengths in use, longest first in @plen */
	u32 mask;			/* slots - 1 */
	size_t bytes;			/* what the set costs, for the module-wide bound */
	unsigned long plens[BITS_TO_LONGS(129)];
	u8 plen[129];			/* the lengths of @plens as a list */
	union {
		DECLARE_FLEX_ARRAY(struct netlens_set_slot, slots);
		DECLARE_FLEX_ARRAY(unsigned long, ports);	/* BITS_TO_LONGS(65536) */
	};
};

struct netlens_match {
	u32 hooks;			/* NETLENS_HOOK_* mask */
	u8 family;			/* NETLENS_FAMILY_* (a bit mask: BOTH = V4|V6) */
	u8 proto;			/* 0 = any */
	u8 src_plen, dst_plen;		/* 0 = any */
	union nf_inet_addr src, src_mask;
	union nf_inet_addr dst, dst_mask;
	u16 sport_min, sport_max;
	u16 dport_min, dport_max;
	char iifname[IFNAMSIZ];
	char oifname[IFNAMSIZ];
	u8 has_icmp_type, has_icmp_code;
	u8 icmp_type, icmp_code;
	u8 tcp_flags, tcp_mask;		/* mask 0: flags not looked at */
	u32 neg;			/* NETLENS_NEG_* */
	u8 ct_state;			/* NETLENS_CT_*, 0 = not looked at */
	u8 needs_l4;			/* looks at ports, ICMP or TCP flags (set by netlens_link) */
	/* [NETLENS_SET_*]: NULL = no set; excludes the prefix/range of its field */
	struct netlens_set *set[NETLENS_SET_FIELD_MAX + 1];
};

struct netlens_txn;

/*
 * what the rules look at, parsed once per packet (netlens_hooks.c); the L4
 * header (ports, ICMP type, TCP flags) only when a rule, the port index or
 * the log first needs it (netlens_pkt_l4).
 */
struct netlens_pkt {
	u8 family;			/* NETLENS_FAMILY_IPV4 or _IPV6 */
	u8 proto;
	bool l4_todo;			/* the L4 header at @thoff is not parsed yet */
	unsigned int thoff;
	const struct sk_buff *skb;
	bool has_ports, has_icmp, has_tcp_flags;
	u8 icmp_type, icmp_code, tcp_flags;
	u8 ct_state;			/* NETLENS_CT_*, when the namespace has ct rules */
	u16 sport, dport;
	union nf_inet_addr src, dst;
	const struct net_device *in, *out;
};

/*
 * per-rule packet log state, shared by the copies of a rule like @stats:
 * a lock-free token bucket (GCRA: @tat is the theoretical arrival time of
 * the next event, CLOCK_MONOTONIC ns) and the matched packets not logged.
 */
struct netlens_log_state {
	atomic64_t tat;
	atomic64_t dropped;
};

/*
 * struct netlens_htab - the hash table of one index.  A rule's key hashes to
 * a 64-bit @hkey (netlens_hkey*); its bucket is the top @bits bits.  The
 * table doubles when it holds more rules than half its buckets (so a chain
 * is short and most probes of a key that has no rule find an empty bucket):
 * the rules are linked into the new table through their other hlist node
 * (@node says which one this table uses), the new table is published, and
 * the old one is freed after a grace period; a packet walks either table
 * whole.  The next doubling waits for that grace period before it reuses
 * the old nodes (@gp).
 */
struct netlens_htab {
	struct rcu_head rcu;
	unsigned long gp;		/* get_state_synchronize_rcu() at publication */
	u8 bits;			/* 1 << bits buckets */
	u8 node;			/* a rule's node[@node] links it here */
	struct hlist_head b[];
};

#define NETLENS_HTAB_MIN_BITS	8	/* 256 buckets (2 KiB) per index to start */
#define NETLENS_HTAB_MAX_BITS	22

/*
 * netlens_hkey4/6/port - the hash of an index key: multiplicative (Fibonacci)
 * hashing, whose top bits pick the bucket.  On IPv4 and ports it is a
 * bijection of the key, so equal hashes mean equal keys; on IPv6 the match
 * still compares the address.  Rule keys are the administrator's, so there
 * is no flooding to defend against: a packet only picks which bucket to
 * look at.
 */
static inline u64 netlens_hkey4(__be32 addr, u8 plen)
{
	return (((u64)plen << 32) | (__force u32)addr) * GOLDEN_RATIO_64;
}

static inline u64 netlens_hkey6(const struct in6_addr *a, u8 plen)
{
	u64 hi = ((u64)(__force u32)a->s6_addr32[0] << 32) | (__force u32)a->s6_addr32[1];
	u64 lo = ((u64)(__force u32)a->s6_addr32[2] << 32) | (__force u32)a->s6_addr32[3];

	return ((hi * GOLDEN_RATIO_64) ^ lo ^ plen) * GOLDEN_RATIO_64;
}

static inline u64 netlens_hkey_port(u16 port)
{
	return ((u64)port + 1) * GOLDEN_RATIO_64;
}

static inline struct hlist_head *netlens_hbucket(struct netlens_htab *t,
						 u64 hkey)
{
	return &t->b[hkey >> (64 - t->bits)];
}

struct netlens_rule {
	struct hlist_node node[2];	/* index chain, RCU; see struct netlens_htab */
	u64 hkey;			/* hash of the index key (hashed indexes) */
	struct rcu_head rcu;
	u32 id;
	u32 priority;
	u8 enabled;
	u8 action;			/* NETLENS_ACTION_* */
	u8 index;			/* enum netlens_index, NONE when not linked */
	u8 owns_stats;			/* free @stats with this copy */
	u8 reject_with;			/* NETLENS_REJECT_*, for ACTION_REJECT */
	u8 reject_code;			/* ICMP/ICMPv6 code, for REJECT_ICMP_UNREACH */
	u8 ct_held;			/* this copy holds a conntrack reference (ct_rules) */
	u8 log;				/* send matched packets to the "packets" group */
	u32 log_rate;			/* log events per second (burst as many) */
	struct netlens_log_state *logst; /* owned with @stats (@owns_stats) */
	struct netlens_match m;
	char label[NETLENS_LABEL_MAX + 1];
	struct netlens_rule_stats __percpu *stats;
	struct netlens_txn *txn;	/* pending commit-confirmed change, under lock */
};

/* a create or change made with a revert deadline, not confirmed yet */
struct netlens_txn {
	struct list_head node;		/* in netlens_net.txns */
	u32 id;
	u32 rule_id;
	unsigned long deadline;		/* jiffies */
	struct netlens_rule *prev;	/* state to restore; NULL: delete the rule */
	bool policy;			/* a default policy change: restore @prev_verdict */
	u8 fam, hook, prev_verdict;
};

struct netlens_net {
	struct net *net;
	struct mutex lock;

	/* under lock */
	struct xarray rules;		/* id -> struct netlens_rule */
	u32 nrules;
	u32 plen_cnt[NETLENS_IDX_HASHED][129];
	u32 idx_n[NETLENS_IDX_HASHED];	/* rules in each hashed index */
	u32 ncount;			/* enabled COUNT rules */
	struct list_head txns;
	u32 next_txn;
	u32 next_id;			/* for xa_alloc_cyclic */
	u32 gen;			/* bumped by every change, for dumps */

	/* written under lock, read locklessly by the packet path */
	struct netlens_htab __rcu *htab[NETLENS_IDX_HASHED];	/* grow, freed at namespace exit */
	struct hlist_head misc;		/* through node[0] */
	unsigned long plen_map[NETLENS_IDX_HASHED][BITS_TO_LONGS(129)];
	u32 nindexed;
	u32 ndport;			/* rules in the destination port index */
	u32 hook_rules[2][NETLENS_NHOOKS];	/* indexed rules per [v4/v6][hook] */

	/* under lock: a hook (ops[i]) is registered while a rule or policy needs it */
	bool op_on[2 * NETLENS_NHOOKS];
	u32 hooks_on;			/* how many are */
	u8 policy[2][NETLENS_NHOOKS];	/* NETLENS_ACTION_ACCEPT/DROP; 0 = accept; read locklessly */
	u32 ct_rules;			/* published rules with a ct match: conntrack is on while > 0 */
	bool dying;			/* pre_exit ran: never register again */
	struct netlens_rule *misc_tail;	/* last rule of @misc, for O(1) appends */

	/* sysctls (net.netlens.*) */
	int sysctl_enabled;
	int sysctl_max_rules;
	struct ctl_table_header *sysctl_hdr;

	struct netlens_hook_stats __percpu *hstats;
	struct delayed_work revert_work;
	struct nf_hook_ops ops[2 * NETLENS_NHOOKS];
};

extern unsigned int netlens_net_id;
extern int netlens_hook_priority;
extern unsigned int netlens_max_rules_default;

static inline struct netlens_net *netlens_pernet(struct net *net)
{
	return net_generic(net, netlens_net_id);
}

/* netlens_rules.c */
void netlens_rules_init(struct netlens_net *nn);
void netlens_rules_exit(struct netlens_net *nn);
struct netlens_rule *netlens_rule_alloc(void);
void netlens_rule_free(struct netlens_rule *r);
struct netlens_rule *netlens_rule_copy(const struct netlens_rule *r);
int netlens_tabs_ensure(struct netlens_net *nn);
int netlens_rule_insert(struct netlens_net *nn, struct netlens_rule *r);
void netlens_rule_remove(struct netlens_net *nn, struct netlens_rule *r);
void netlens_rule_replace(struct netlens_net *nn, struct netlens_rule *old,
			  struct netlens_rule *nr);
void netlens_rules_flush(struct netlens_net *nn);
void netlens_rule_read_stats(const struct netlens_rule *r,
			     struct netlens_rule_counts *sum);
void netlens_hook_read_stats(const struct netlens_net *nn,
			     struct netlens_hook_counts *sum);
bool netlens_rule_before(const struct netlens_rule *a,
			 const struct netlens_rule *b);
/* netlens_node_rule - the rule whose node[@which] is @n */
static inline struct netlens_rule *netlens_node_rule(const struct hlist_node *n,
						     int which)
{
	return (struct netlens_rule *)((const char *)(n - which) -
				       offsetof(struct netlens_rule, node));
}
void netlens_txn_free(struct netlens_txn *t);
void netlens_txn_drop(struct netlens_rule *r);
void netlens_txn_arm(struct netlens_net *nn);
void netlens_revert_work(struct work_struct *work);

/* netlens_set.c */
struct netlens_set *netlens_set_build(const struct genl_info *info, int type,
				      int field, struct netlink_ext_ack *extack);
void netlens_set_get(struct netlens_set *s);
void netlens_set_put(struct netlens_set *s);
void netlens_sets_get(struct netlens_match *m);
void netlens_sets_put(struct netlens_match *m);
bool netlens_set_has_addr(const struct netlens_set *s,
			  const union nf_inet_addr *a);
static inline bool netlens_set_has_port(const struct netlens_set *s, u16 port)
{
	return test_bit(port, s->ports);
}
int netlens_set_fill(struct sk_buff *skb, const struct netlens_set *s,
		     int attr, u32 *cursor);

/* netlens_hooks.c */
void netlens_hooks_init(struct netlens_net *nn);
int netlens_hooks_sync(struct netlens_net *nn);
void netlens_hooks_unregister(struct netlens_net *nn);
u8 netlens_ct_state(const struct sk_buff *skb);
bool netlens_match_needs_l4(const struct netlens_match *m);

/* netlens_log.c */
void netlens_log_packet(const struct netlens_rule *r, const struct sk_buff *skb,
			const struct netlens_pkt *p,
			const struct nf_hook_state *state, u8 verdict);
u64 netlens_log_dropped(const struct netlens_rule *r);

/* netlens_genl.c */
bool netlens_packets_wanted(struct net *net);
void netlens_packets_send(struct net *net, struct sk_buff *skb);
struct sk_buff *netlens_packets_new(void **hdr);
int netlens_genl_init(void);
void netlens_genl_exit(void);
void netlens_notify(struct netlens_net *nn, u8 event,
		    const struct netlens_rule *r, u32 txn_id);
void netlens_notify_policy(struct netlens_net *nn, int fi, int hook, u32 txn_id);

/* netlens_proc.c */
int netlens_proc_init(struct net *net);
void netlens_proc_exit(struct net *net);

/* netlens_sysctl.c */
int netlens_sysctl_init(struct net *net, struct netlens_net *nn);
void netlens_sysctl_exit(struct netlens_net *nn);

#endif /* _NETLENS_H */
