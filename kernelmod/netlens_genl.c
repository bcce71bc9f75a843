// SPDX-License-Identifier: GPL-2.0
/*
 * netlens_genl.c - the "netlens" generic netlink family: policy, commands,
 * reply builders and the "events" multicast group.  Modelled on
 * net/core/drop_monitor.c.  Every command runs with netlens_net.lock held
 * for its whole duration, so a reply shows the state the command left.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/in.h>
#include <linux/jiffies.h>
#include <linux/rwsem.h>
#include <net/genetlink.h>
#include <net/ipv6.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include "netlens.h"

enum netlens_mcgrp {
	NETLENS_MCGRP_EVENTS,
	NETLENS_MCGRP_PACKETS,
};

static const struct genl_multicast_group netlens_mcgrps[] = {
	[NETLENS_MCGRP_EVENTS] = { .name = NETLENS_GENL_MCGRP_EVENTS },
	[NETLENS_MCGRP_PACKETS] = { .name = NETLENS_GENL_MCGRP_PACKETS },
};

/*
 * One policy per command (genl_ops.policy): an attribute a command does not
 * use is refused with an extack message instead of being ignored.
 */
#define NETLENS_RULE_ATTRS_POLICY					\
	[NETLENS_A_PAD]			= { .type = NLA_REJECT },	\
	[NETLENS_A_RULE_ENABLED]	= NLA_POLICY_MAX(NLA_U8, 1),	\
	[NETLENS_A_RULE_HOOKS]		= NLA_POLICY_MASK(NLA_U32, NETLENS_HOOK_ALL), \
	[NETLENS_A_RULE_FAMILY]		= NLA_POLICY_RANGE(NLA_U8, NETLENS_FAMILY_IPV4, \
							   NETLENS_FAMILY_BOTH), \
	[NETLENS_A_RULE_PROTO]		= { .type = NLA_U8 },		\
	[NETLENS_A_RULE_SRC_ADDR]	= { .type = NLA_BINARY, .len = 16 }, \
	[NETLENS_A_RULE_SRC_PLEN]	= NLA_POLICY_MAX(NLA_U8, 128),	\
	[NETLENS_A_RULE_DST_ADDR]	= { .type = NLA_BINARY, .len = 16 }, \
	[NETLENS_A_RULE_DST_PLEN]	= NLA_POLICY_MAX(NLA_U8, 128),	\
	[NETLENS_A_RULE_SPORT_MIN]	= { .type = NLA_U16 },		\
	[NETLENS_A_RULE_SPORT_MAX]	= { .type = NLA_U16 },		\
	[NETLENS_A_RULE_DPORT_MIN]	= { .type = NLA_U16 },		\
	[NETLENS_A_RULE_DPORT_MAX]	= { .type = NLA_U16 },		\
	/* string lengths are checked in netlens_parse_rule, with a clearer message */ \
	[NETLENS_A_RULE_IIFNAME]	= { .type = NLA_NUL_STRING },	\
	[NETLENS_A_RULE_OIFNAME]	= { .type = NLA_NUL_STRING },	\
	[NETLENS_A_RULE_ACTION]		= NLA_POLICY_RANGE(NLA_U8, NETLENS_ACTION_ACCEPT, \
							   NETLENS_ACTION_REJECT), \
	[NETLENS_A_RULE_REJECT_WITH]	= NLA_POLICY_RANGE(NLA_U8, NETLENS_REJECT_ICMP_UNREACH, \
							   NETLENS_REJECT_TCP_RESET), \
	[NETLENS_A_RULE_REJECT_CODE]	= { .type = NLA_U8 },		\
	[NETLENS_A_RULE_ICMP_TYPE]	= { .type = NLA_U8 },		\
	[NETLENS_A_RULE_ICMP_CODE]	= { .type = NLA_U8 },		\
	[NETLENS_A_RULE_TCP_FLAGS]	= { .type = NLA_U8 },		\
	[NETLENS_A_RULE_TCP_FLAGS_MASK]	= { .type = NLA_U8 },		\
	[NETLENS_A_RULE_NEGATE]		= NLA_POLICY_MASK(NLA_U32, NETLENS_NEG_ALL), \
	[NETLENS_A_RULE_CT_STATE]	= NLA_POLICY_MASK(NLA_U8, NETLENS_CT_ALL), \
	[NETLENS_A_RULE_PRIORITY]	= { .type = NLA_U32 },		\
	[NETLENS_A_RULE_LABEL]		= { .type = NLA_NUL_STRING },	\
	[NETLENS_A_RULE_PACKETS]	= { .type = NLA_REJECT,		\
					    .reject_message = "packet counter is read-only" }, \
	[NETLENS_A_RULE_BYTES]		= { .type = NLA_REJECT,		\
					    .reject_message = "byte counter is read-only" }, \
	[NETLENS_A_RULE_LAST_HIT_NS]	= { .type = NLA_REJECT,		\
					    .reject_message = "last hit time is read-only" }, \
	[NETLENS_A_REVERT_MS]		= { .type = NLA_U32 },	/* range: netlens_check_write_attrs() */ \
	[NETLENS_A_TXN_ID]		= { .type = NLA_REJECT,		\
					    .reject_message = "a transaction id only goes with CONFIRM" }, \
	[NETLENS_A_RULE_COUNT]		= { .type = NLA_REJECT,		\
					    .reject_message = "rule count is read-only" }, \
	[NETLENS_A_HOOKS_REGISTERED]	= { .type = NLA_REJECT,		\
					    .reject_message = "hook count is read-only" }, \
	[NETLENS_A_RULE_LOG]		= NLA_POLICY_MAX(NLA_U8, 1),	\
	[NETLENS_A_RULE_LOG_RATE]	= NLA_POLICY_FULL_RANGE(NLA_U32, &netlens_log_rate_range), \
	[NETLENS_A_RULE_LOG_DROPPED]	= { .type = NLA_REJECT,		\
					    .reject_message = "log drop counter is read-only" }, \
	[NETLENS_A_RULE_SRC_SET]	= NLA_POLICY_NESTED(netlens_set_policy), \
	[NETLENS_A_RULE_DST_SET]	= NLA_POLICY_NESTED(netlens_set_policy), \
	[NETLENS_A_RULE_SPORT_SET]	= NLA_POLICY_NESTED(netlens_set_policy), \
	[NETLENS_A_RULE_DPORT_SET]	= NLA_POLICY_NESTED(netlens_set_policy), \
	[NETLENS_A_RULE_SRC_SET_SIZE]	= { .type = NLA_REJECT,		\
					    .reject_message = "set size is read-only" }, \
	[NETLENS_A_RULE_DST_SET_SIZE]	= { .type = NLA_REJECT,		\
					    .reject_message = "set size is read-only" }, \
	[NETLENS_A_RULE_SPORT_SET_SIZE]	= { .type = NLA_REJECT,		\
					    .reject_message = "set size is read-only" }, \
	[NETLENS_A_RULE_DPORT_SET_SIZE]	= { .type = NLA_REJECT,		\
					    .reject_message = "set size is read-only" }

static struct netlink_range_validation netlens_log_rate_range __ro_after_init = {
	.min = 1,
	.max = NETLENS_LOG_RATE_MAX,
};

static const struct nla_policy netlens_pfx_policy[NETLENS_A_PFX_MAX + 1] = {
	[NETLENS_A_PFX_ADDR]		= { .type = NLA_BINARY, .len = 16 },
	[NETLENS_A_PFX_PLEN]		= NLA_POLICY_RANGE(NLA_U8, 1, 128),
};

static const struct nla_policy netlens_set_policy[NETLENS_A_SET_MAX + 1] = {
	[NETLENS_A_SET_PREFIX]		= NLA_POLICY_NESTED(netlens_pfx_policy),
	[NETLENS_A_SET_PORT]		= { .type = NLA_U16 },
};

static const struct nla_policy netlens_create_policy[NETLENS_A_MAX + 1] = {
	NETLENS_RULE_ATTRS_POLICY,
	[NETLENS_A_RULE_ID]		= { .type = NLA_REJECT,
					    .reject_message = "rule ids are assigned by the kernel" },
};

static const struct nla_policy netlens_change_policy[NETLENS_A_MAX + 1] = {
	NETLENS_RULE_ATTRS_POLICY,
	[NETLENS_A_RULE_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
};

static const struct nla_policy netlens_delete_policy[NETLENS_A_MAX + 1] = {
	[NETLENS_A_RULE_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
	[NETLENS_A_REVERT_MS]		= { .type = NLA_REJECT,
					    .reject_message = "a deletion cannot be reverted: disable the rule with a revert deadline instead" },
};

static const struct nla_policy netlens_get_policy[NETLENS_A_MAX + 1] = {
	[NETLENS_A_RULE_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
};

static const struct nla_policy netlens_flush_policy[NETLENS_A_MAX + 1] = {
	[NETLENS_A_REVERT_MS]		= { .type = NLA_REJECT,
					    .reject_message = "a flush cannot be reverted: disable the rules with a revert deadline instead" },
};

static const struct nla_policy netlens_confirm_policy[NETLENS_A_MAX + 1] = {
	[NETLENS_A_TXN_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
	[NETLENS_A_REVERT_MS]		= { .type = NLA_REJECT,
					    .reject_message = "a confirmation cannot be reverted" },
};

static const struct nla_policy netlens_policy_policy[NETLENS_A_MAX + 1] = {
	[NETLENS_A_POLICY_FAMILY]	= NLA_POLICY_RANGE(NLA_U8, NETLENS_FAMILY_IPV4,
							   NETLENS_FAMILY_IPV6),
	[NETLENS_A_POLICY_HOOK]		= NLA_POLICY_MAX(NLA_U8, NETLENS_NHOOKS - 1),
	[NETLENS_A_POLICY_VERDICT]	= NLA_POLICY_RANGE(NLA_U8, NETLENS_ACTION_ACCEPT,
							   NETLENS_ACTION_DROP),
	[NETLENS_A_REVERT_MS]		= { .type = NLA_U32 },
};

static const struct nla_policy netlens_get_set_policy[NETLENS_A_MAX + 1] = {
	[NETLENS_A_RULE_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
	[NETLENS_A_SET_FIELD]		= NLA_POLICY_MAX(NLA_U8, NETLENS_SET_FIELD_MAX),
};

/* COUNTERS takes no attribute */
static const struct nla_policy netlens_counters_policy[NETLENS_A_MAX + 1] = {
};

static struct genl_family netlens_family;

/*
 * Events may come from the revert work, which runs until the namespaces are
 * torn down, after the family is gone on module exit. netlens_notify sends
 * only while netlens_genl_live, which exit clears under the write lock
 * before unregistering the family, so no event goes to a stale group id.
 */
static DECLARE_RWSEM(netlens_genl_rwsem);
static bool netlens_genl_live;

/*
 * The packet log sends from the hooks (softirq, under RCU), where the
 * rwsem cannot be taken: it reads netlens_packets_live, which exit clears
 * and then waits a grace period before the family goes.
 */
static bool netlens_packets_live;

/* netlens_packets_wanted - the family is there and someone in @net listens */
bool netlens_packets_wanted(struct net *net)
{
	return READ_ONCE(netlens_packets_live) &&
	       genl_has_listeners(&netlens_family, net, NETLENS_MCGRP_PACKETS);
}

/* netlens_packets_new - a CMD_PACKET message; GFP_ATOMIC */
struct sk_buff *netlens_packets_new(void **hdr)
{
	struct sk_buff *skb = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_ATOMIC);

	if (!skb)
		return NULL;
	*hdr = genlmsg_put(skb, 0, 0, &netlens_family, 0, NETLENS_CMD_PACKET);
	if (!*hdr) {
		nlmsg_free(skb);
		return NULL;
	}
	return skb;
}

/* netlens_packets_send - multicast a packet log event in @net */
void netlens_packets_send(struct net *net, struct sk_buff *skb)
{
	genlmsg_multicast_netns(&netlens_family, net, skb, 0,
				NETLENS_MCGRP_PACKETS, GFP_ATOMIC);
}

/* ---- reply builders ---- */

static int netlens_put_addr(struct sk_buff *skb, int aattr, int pattr, u8 fam,
			    const union nf_inet_addr *a, u8 plen)
{
	if (!plen)
		return 0;
	if (nla_put(skb, aattr, fam == NETLENS_FAMILY_IPV4 ? 4 : 16, a))
		return -EMSGSIZE;
	return nla_put_u8(skb, pattr, plen);
}

/* the elements of a set are listed by GET_SET; a rule says how many there are */
static int netlens_put_set_sizes(struct sk_buff *skb, const struct netlens_match *m)
{
	static const int attr[] = {
		[NETLENS_SET_SRC] = NETLENS_A_RULE_SRC_SET_SIZE,
		[NETLENS_SET_DST] = NETLENS_A_RULE_DST_SET_SIZE,
		[NETLENS_SET_SPORT] = NETLENS_A_RULE_SPORT_SET_SIZE,
		[NETLENS_SET_DPORT] = NETLENS_A_RULE_DPORT_SET_SIZE,
	};
	int f;

	for (f = 0; f <= NETLENS_SET_FIELD_MAX; f++)
		if (m->set[f] && nla_put_u32(skb, attr[f], m->set[f]->n))
			return -EMSGSIZE;
	return 0;
}

static int netlens_rule_fill(struct sk_buff *skb, const struct netlens_rule *r)
{
	const struct netlens_match *m = &r->m;
	struct netlens_rule_counts st;

	netlens_rule_read_stats(r, &st);
	if (nla_put_u32(skb, NETLENS_A_RULE_ID, r->id) ||
	    nla_put_u8(skb, NETLENS_A_RULE_ENABLED, r->enabled) ||
	    nla_put_u32(skb, NETLENS_A_RULE_HOOKS, m->hooks) ||
	    nla_put_u8(skb, NETLENS_A_RULE_FAMILY, m->family) ||
	    nla_put_u8(skb, NETLENS_A_RULE_PROTO, m->proto) ||
	    netlens_put_addr(skb, NETLENS_A_RULE_SRC_ADDR, NETLENS_A_RULE_SRC_PLEN,
			     m->family, &m->src, m->src_plen) ||
	    netlens_put_addr(skb, NETLENS_A_RULE_DST_ADDR, NETLENS_A_RULE_DST_PLEN,
			     m->family, &m->dst, m->dst_plen) ||
	    nla_put_u16(skb, NETLENS_A_RULE_SPORT_MIN, m->sport_min) ||
	    nla_put_u16(skb, NETLENS_A_RULE_SPORT_MAX, m->sport_max) ||
	    nla_put_u16(skb, NETLENS_A_RULE_DPORT_MIN, m->dport_min) ||
	    nla_put_u16(skb, NETLENS_A_RULE_DPORT_MAX, m->dport_max) ||
	    (m->iifname[0] && nla_put_string(skb, NETLENS_A_RULE_IIFNAME, m->iifname)) ||
	    (m->oifname[0] && nla_put_string(skb, NETLENS_A_RULE_OIFNAME, m->oifname)) ||
	    nla_put_u8(skb, NETLENS_A_RULE_ACTION, r->action) ||
	    nla_put_u32(skb, NETLENS_A_RULE_PRIORITY, r->priority) ||
	    (r->label[0] && nla_put_string(skb, NETLENS_A_RULE_LABEL, r->label)) ||
	    (m->has_icmp_type && nla_put_u8(skb, NETLENS_A_RULE_ICMP_TYPE, m->icmp_type)) ||
	    (m->has_icmp_code && nla_put_u8(skb, NETLENS_A_RULE_ICMP_CODE, m->icmp_code)) ||
	    (m->tcp_mask && (nla_put_u8(skb, NETLENS_A_RULE_TCP_FLAGS, m->tcp_flags) ||
			     nla_put_u8(skb, NETLENS_A_RULE_TCP_FLAGS_MASK, m->tcp_mask))) ||
	    (m->neg && nla_put_u32(skb, NETLENS_A_RULE_NEGATE, m->neg)) ||
	    (m->ct_state && nla_put_u8(skb, NETLENS_A_RULE_CT_STATE, m->ct_state)) ||
	    (r->action == NETLENS_ACTION_REJECT &&
	     (nla_put_u8(skb, NETLENS_A_RULE_REJECT_WITH, r->reject_with) ||
	      (r->reject_with == NETLENS_REJECT_ICMP_UNREACH &&
	       nla_put_u8(skb, NETLENS_A_RULE_REJECT_CODE, r->reject_code)))) ||
	    netlens_put_set_sizes(skb, m) ||
	    nla_put_u8(skb, NETLENS_A_RULE_LOG, r->log) ||
	    nla_put_u32(skb, NETLENS_A_RULE_LOG_RATE, r->log_rate) ||
	    nla_put_u64_64bit(skb, NETLENS_A_RULE_LOG_DROPPED, netlens_log_dropped(r),
			      NETLENS_A_PAD) ||
	    nla_put_u64_64bit(skb, NETLENS_A_RULE_PACKETS, st.packets, NETLENS_A_PAD) ||
	    nla_put_u64_64bit(skb, NETLENS_A_RULE_BYTES, st.bytes, NETLENS_A_PAD) ||
	    nla_put_u64_64bit(skb, NETLENS_A_RULE_LAST_HIT_NS, st.last_hit_ns,
			      NETLENS_A_PAD))
		return -EMSGSIZE;
	if (r->txn) {
		unsigned long now = jiffies, left = 0;

		if (time_after(r->txn->deadline, now))
			left = jiffies_to_msecs(r->txn->deadline - now);
		if (nla_put_u32(skb, NETLENS_A_TXN_ID, r->txn->id) ||
		    nla_put_u32(skb, NETLENS_A_REVERT_MS, left))
			return -EMSGSIZE;
	}
	return 0;
}

/*
 * netlens_rule_msg - one message about @r (may be NULL) with an optional
 * event and transaction id; cancels and returns -EMSGSIZE on overflow.
 */
static int netlens_rule_msg(struct sk_buff *skb, const struct netlens_rule *r,
			    u32 portid, u32 seq, int flags, u8 cmd, u8 event,
			    u32 txn, struct netlink_callback *cb)
{
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &netlens_family, flags, cmd);
	if (!hdr)
		return -EMSGSIZE;
	if (cb)
		genl_dump_check_consistent(cb, hdr);
	if (event && nla_put_u8(skb, NETLENS_A_EVENT, event))
		goto cancel;
	if (txn && !(r && r->txn) && nla_put_u32(skb, NETLENS_A_TXN_ID, txn))
		goto cancel;
	if (r && netlens_rule_fill(skb, r))
		goto cancel;
	genlmsg_end(skb, hdr);
	return 0;

cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/*
 * netlens_event_new - a message for the events group, or NULL when the
 * family is going or nobody in the namespace listens.  On non-NULL it holds
 * netlens_genl_rwsem for reading until netlens_event_send().
 */
static struct sk_buff *netlens_event_new(struct netlens_net *nn)
{
	struct sk_buff *skb = NULL;

	down_read(&netlens_genl_rwsem);
	if (netlens_genl_live &&
	    genl_has_listeners(&netlens_family, nn->net, NETLENS_MCGRP_EVENTS))
		skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		up_read(&netlens_genl_rwsem);
	return skb;
}

/* netlens_event_send - multicast @skb if it was built (@err 0), else free it */
static void netlens_event_send(struct netlens_net *nn, struct sk_buff *skb,
			       int err)
{
	if (err)
		nlmsg_free(skb);
	else
		genlmsg_multicast_netns(&netlens_family, nn->net, skb, 0,
					NETLENS_MCGRP_EVENTS, GFP_KERNEL);
	up_read(&netlens_genl_rwsem);
}

/* netlens_notify_policy - announce a default policy change; lock held. */
void netlens_notify_policy(struct netlens_net *nn, int fi, int hook, u32 txn_id)
{
	struct sk_buff *skb = netlens_event_new(nn);
	void *hdr;

	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &netlens_family, 0, NETLENS_CMD_EVENT);
	if (!hdr ||
	    nla_put_u8(skb, NETLENS_A_EVENT, NETLENS_EVENT_POLICY) ||
	    nla_put_u8(skb, NETLENS_A_POLICY_FAMILY,
		       fi ? NETLENS_FAMILY_IPV6 : NETLENS_FAMILY_IPV4) ||
	    nla_put_u8(skb, NETLENS_A_POLICY_HOOK, hook) ||
	    nla_put_u8(skb, NETLENS_A_POLICY_VERDICT,
		       nn->policy[fi][hook] ?: NETLENS_ACTION_ACCEPT) ||
	    (txn_id && nla_put_u32(skb, NETLENS_A_TXN_ID, txn_id))) {
		netlens_event_send(nn, skb, -EMSGSIZE);
		return;
	}
	genlmsg_end(skb, hdr);
	netlens_event_send(nn, skb, 0);
}

/* netlens_notify - announce a change on the events group; lock held. */
void netlens_notify(struct netlens_net *nn, u8 event,
		    const struct netlens_rule *r, u32 txn_id)
{
	struct sk_buff *skb = netlens_event_new(nn);

	if (skb)
		netlens_event_send(nn, skb,
				   netlens_rule_msg(skb, r, 0, 0, 0, NETLENS_CMD_EVENT,
						    event, txn_id, NULL));
}

static int netlens_reply_rule(struct genl_info *info,
			      const struct netlens_rule *r)
{
	struct sk_buff *skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);

	if (!skb)
		return -ENOMEM;
	if (netlens_rule_msg(skb, r, info->snd_portid, info->snd_seq, 0,
			     info->genlhdr->cmd, 0, 0, NULL)) {
		nlmsg_free(skb);
		return -EMSGSIZE;
	}
	return genlmsg_reply(skb, info);
}

/* ---- request parsing ---- */

static void netlens_make_mask(u8 fam, u8 plen, union nf_inet_addr *mask)
{
	int i;

	memset(mask, 0, sizeof(*mask));
	if (fam == NETLENS_FAMILY_IPV4) {
		mask->ip = inet_make_mask(plen);
		return;
	}
	for (i = 0; i < 4; i++) {
		int bits = clamp_t(int, plen - 32 * i, 0, 32);

		mask->ip6[i] = bits ? htonl(~0U << (32 - bits)) : 0;
	}
}

/*
 * netlens_parse_addr - apply an address and/or prefix length attribute.
 * @fam is the family of the current address (0 when there is none) and is
 * updated.
 */
static int netlens_parse_addr(struct genl_info *info, int aattr, int pattr,
			      union nf_inet_addr *addr, union nf_inet_addr *mask,
			      u8 *plen, u8 *fam, const char *what)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr *a = info->attrs[aattr], *pl = info->attrs[pattr];
	int i, len;

	if (a) {
		len = nla_len(a);
		if (len != 4 && len != 16) {
			NL_SET_ERR_MSG_ATTR(extack, a,
					    "address must be 4 (IPv4) or 16 (IPv6) bytes");
			return -EINVAL;
		}
		memset(addr, 0, sizeof(*addr));
		memcpy(addr, nla_data(a), len);
		*fam = len == 4 ? NETLENS_FAMILY_IPV4 : NETLENS_FAMILY_IPV6;
		*plen = len * 8;
	}
	if (pl) {
		*plen = nla_get_u8(pl);
		if (*plen && !*fam) {
			NL_SET_ERR_MSG_ATTR(extack, pl,
					    "prefix length given without an address");
			return -EINVAL;
		}
	}
	if (!*plen) {
		memset(addr, 0, sizeof(*addr));
		memset(mask, 0, sizeof(*mask));
		*fam = 0;
		return 0;
	}
	if (*fam == NETLENS_FAMILY_IPV4 && *plen > 32) {
		NL_SET_ERR_MSG_ATTR(extack, pl ?: a,
				    "bad prefix length: an IPv4 prefix is at most 32 bits");
		return -EINVAL;
	}
	netlens_make_mask(*fam, *plen, mask);
	for (i = 0; i < 4; i++) {
		if (addr->all[i] & ~mask->all[i]) {
			NL_SET_ERR_MSG_ATTR(extack, a ?: pl,
					    "address has bits set beyond its prefix length");
			return -EINVAL;
		}
	}
	pr_debug("%s prefix /%u\n", what, *plen);
	return 0;
}

static int netlens_parse_ports(struct genl_info *info, int minattr,
			       int maxattr, u16 *min, u16 *max, bool src)
{
	struct nlattr *a = info->attrs[minattr], *b = info->attrs[maxattr];

	if (a) {
		*min = nla_get_u16(a);
		if (!b)
			*max = *min;	/* MIN alone is an exact port */
	}
	if (b)
		*max = nla_get_u16(b);
	if (*min > *max) {
		if (src)
			NL_SET_ERR_MSG_ATTR(info->extack, b ?: a,
					    "source port range reversed (min > max)");
		else
			NL_SET_ERR_MSG_ATTR(info->extack, b ?: a,
					    "destination port range reversed (min > max)");
		return -EINVAL;
	}
	return 0;
}

static bool netlens_ports_ok(u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	       proto == IPPROTO_UDPLITE || proto == IPPROTO_SCTP;
}

/* netlens_label_ok - no control characters: labels go into /proc lines. */
static bool netlens_label_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/*
 * netlens_parse_l4 - ICMP type/code, TCP flags and negation, checked
 * against the rule as a whole: a match that no longer fits the protocol is
 * dropped when the request does not set it, refused when it does.
 */
static int netlens_parse_l4(struct genl_info *info, struct netlens_rule *r)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr **tb = info->attrs;
	struct netlens_match *m = &r->m;
	bool icmp = m->proto == IPPROTO_ICMP || m->proto == IPPROTO_ICMPV6;
	u32 have = 0;

	if (tb[NETLENS_A_RULE_ICMP_TYPE]) {
		if (!icmp) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NETLENS_A_RULE_ICMP_TYPE],
					    "an ICMP type needs protocol icmp (1) or icmpv6 (58)");
			return -EINVAL;
		}
		m->icmp_type = nla_get_u8(tb[NETLENS_A_RULE_ICMP_TYPE]);
		m->has_icmp_type = 1;
	} else if (!icmp) {
		m->has_icmp_type = 0;
		m->has_icmp_code = 0;
	}
	if (tb[NETLENS_A_RULE_ICMP_CODE]) {
		if (!m->has_icmp_type) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NETLENS_A_RULE_ICMP_CODE],
					    "an ICMP code needs an ICMP type");
			return -EINVAL;
		}
		m->icmp_code = nla_get_u8(tb[NETLENS_A_RULE_ICMP_CODE]);
		m->has_icmp_code = 1;
	}
	if (tb[NETLENS_A_RULE_TCP_FLAGS_MASK])
		m->tcp_mask = nla_get_u8(tb[NETLENS_A_RULE_TCP_FLAGS_MASK]);
	if (tb[NETLENS_A_RULE_TCP_FLAGS])
		m->tcp_flags = nla_get_u8(tb[NETLENS_A_RULE_TCP_FLAGS]);
	if (m->proto != IPPROTO_TCP) {
		if (m->tcp_mask && (tb[NETLENS_A_RULE_TCP_FLAGS_MASK] ||
				    tb[NETLENS_A_RULE_TCP_FLAGS])) {
			NL_SET_ERR_MSG_MOD(extack, "TCP flags need protocol tcp (6)");
			return -EINVAL;
		}
		m->tcp_mask = 0;
	}
	if (!m->tcp_mask)
		m->tcp_flags = 0;
	if (m->tcp_flags & ~m->tcp_mask) {
		NL_SET_ERR_MSG_MOD(extack, "TCP flags set outside the flags mask");
		return -EINVAL;
	}
	if (tb[NETLENS_A_RULE_CT_STATE])
		m->ct_state = nla_get_u8(tb[NETLENS_A_RULE_CT_STATE]);
	if (tb[NETLENS_A_RULE_NEGATE])
		m->neg = nla_get_u32(tb[NETLENS_A_RULE_NEGATE]);
	if (m->ct_state)
		have |= NETLENS_NEG_CT;
	if (m->src_plen || m->set[NETLENS_SET_SRC])
		have |= NETLENS_NEG_SRC;
	if (m->dst_plen || m->set[NETLENS_SET_DST])
		have |= NETLENS_NEG_DST;
	if (m->sport_min || m->sport_max != 0xffff || m->set[NETLENS_SET_SPORT])
		have |= NETLENS_NEG_SPORT;
	if (m->dport_min || m->dport_max != 0xffff || m->set[NETLENS_SET_DPORT])
		have |= NETLENS_NEG_DPORT;
	if (m->iifname[0])
		have |= NETLENS_NEG_IIF;
	if (m->oifname[0])
		have |= NETLENS_NEG_OIF;
	if (m->has_icmp_type)
		have |= NETLENS_NEG_ICMP;
	if (m->tcp_mask)
		have |= NETLENS_NEG_TCP_FLAGS;
	if (m->neg & ~have) {
		if (tb[NETLENS_A_RULE_NEGATE]) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NETLENS_A_RULE_NEGATE],
					    "negation of a match the rule does not have");
			return -EINVAL;
		}
		m->neg &= have;	/* the match went away with this change */
	}
	return 0;
}

/*
 * netlens_parse_reject - how a REJECT rule answers; checked against the rule
 * as a whole (its hooks, protocol and family).  Other actions carry none.
 */
static int netlens_parse_reject(struct genl_info *info, struct netlens_rule *r)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr *with = info->attrs[NETLENS_A_RULE_REJECT_WITH];
	struct nlattr *code = info->attrs[NETLENS_A_RULE_REJECT_CODE];
	u8 fam = r->m.family;
	bool was_icmp;

	if (r->action != NETLENS_ACTION_REJECT) {
		if (with || code) {
			NL_SET_ERR_MSG_ATTR(extack, with ?: code,
					    "a reject type or code goes with action REJECT only");
			return -EINVAL;
		}
		r->reject_with = 0;
		r->reject_code = 0;
		return 0;
	}
	was_icmp = r->reject_with == NETLENS_REJECT_ICMP_UNREACH;
	if (with)
		r->reject_with = nla_get_u8(with);
	if (!r->reject_with)
		r->reject_with = NETLENS_REJECT_ICMP_UNREACH;
	if (r->m.hooks & ~NETLENS_HOOK_REJECT_OK) {
		NL_SET_ERR_MSG_MOD(extack,
				   "REJECT works at PRE_ROUTING, LOCAL_IN, FORWARD and LOCAL_OUT only");
		return -EINVAL;
	}
	if (r->reject_with == NETLENS_REJECT_TCP_RESET) {
		if (code) {
			NL_SET_ERR_MSG_ATTR(extack, code, "a TCP reset has no ICMP code");
			return -EINVAL;
		}
		if (r->m.proto != IPPROTO_TCP) {
			NL_SET_ERR_MSG_MOD(extack, "a TCP reset needs protocol tcp (6)");
			return -EINVAL;
		}
		r->reject_code = 0;
		return 0;
	}
	if (code && fam == NETLENS_FAMILY_BOTH) {
		NL_SET_ERR_MSG_ATTR(extack, code,
				    "an ICMP code needs one family: ICMP and ICMPv6 codes differ");
		return -EINVAL;
	}
	if (code)
		r->reject_code = nla_get_u8(code);
	else if (!was_icmp || fam == NETLENS_FAMILY_BOTH)
		/* a dual-family rule sends each family's port unreachable */
		r->reject_code = fam == NETLENS_FAMILY_IPV6 ?
				 NETLENS_REJECT_CODE_DEFAULT6 : NETLENS_REJECT_CODE_DEFAULT4;
	if ((fam == NETLENS_FAMILY_IPV4 && r->reject_code > NR_ICMP_UNREACH) ||
	    (fam == NETLENS_FAMILY_IPV6 && r->reject_code > ICMPV6_REJECT_ROUTE)) {
		NL_SET_ERR_MSG_ATTR(extack, code,
				    "ICMP unreachable codes are 0..15 (IPv4) and 0..6 (IPv6)");
		return -ERANGE;
	}
	return 0;
}

/*
 * netlens_parse_sets - the address and port sets of the request replace the
 * rule's (an empty nest removes one); checked against the rule as a whole:
 * a set excludes the prefix or port range of its field, an address set
 * fixes the rule's family.  @afam is the family of the rule's prefixes.
 */
static int netlens_parse_sets(struct genl_info *info, struct netlens_rule *r,
			      u8 afam)
{
	static const int attr[] = {
		[NETLENS_SET_SRC] = NETLENS_A_RULE_SRC_SET,
		[NETLENS_SET_DST] = NETLENS_A_RULE_DST_SET,
		[NETLENS_SET_SPORT] = NETLENS_A_RULE_SPORT_SET,
		[NETLENS_SET_DPORT] = NETLENS_A_RULE_DPORT_SET,
	};
	struct netlink_ext_ack *extack = info->extack;
	struct netlens_match *m = &r->m;
	struct netlens_set *set;
	u8 setfam = 0;
	int f;

	for (f = 0; f <= NETLENS_SET_FIELD_MAX; f++) {
		if (!info->attrs[attr[f]])
			continue;
		/* every attribute of the type, not only the last (info->attrs) */
		set = netlens_set_build(info, attr[f], f, extack);
		if (IS_ERR(set))
			return PTR_ERR(set);
		netlens_set_put(m->set[f]);
		m->set[f] = set;
	}
	if (m->set[NETLENS_SET_SRC] && m->src_plen) {
		NL_SET_ERR_MSG_MOD(extack, "a rule has a source prefix or a source set, not both");
		return -EINVAL;
	}
	if (m->set[NETLENS_SET_DST] && m->dst_plen) {
		NL_SET_ERR_MSG_MOD(extack,
				   "a rule has a destination prefix or a destination set, not both");
		return -EINVAL;
	}
	if (m->set[NETLENS_SET_SPORT] && (m->sport_min || m->sport_max != 0xffff)) {
		NL_SET_ERR_MSG_MOD(extack, "a rule has a source port range or a source port set, not both");
		return -EINVAL;
	}
	if (m->set[NETLENS_SET_DPORT] && (m->dport_min || m->dport_max != 0xffff)) {
		NL_SET_ERR_MSG_MOD(extack,
				   "a rule has a destination port range or a destination port set, not both");
		return -EINVAL;
	}
	for (f = NETLENS_SET_SRC; f <= NETLENS_SET_DST; f++) {
		if (!m->set[f])
			continue;
		if ((setfam && setfam != m->set[f]->family) ||
		    (afam && afam != m->set[f]->family)) {
			NL_SET_ERR_MSG_MOD(extack,
					   "the rule's sets and prefixes are of different families");
			return -EINVAL;
		}
		setfam = m->set[f]->family;
	}
	if (setfam && m->family != setfam) {
		if (info->attrs[NETLENS_A_RULE_FAMILY]) {
			NL_SET_ERR_MSG_ATTR(extack, info->attrs[NETLENS_A_RULE_FAMILY],
					    "family does not match the family of the set");
			return -EINVAL;
		}
		m->family = setfam;
	}
	return 0;
}

/*
 * netlens_parse_rule - apply the request's rule attributes to @r (defaults
 * for a create, a copy of the current rule for a change) and check the
 * result as a whole.
 */
static int netlens_parse_rule(struct genl_info *info, struct netlens_rule *r)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr **tb = info->attrs;
	struct netlens_match *m = &r->m;
	u8 sfam = m->src_plen ? m->family : 0;
	u8 dfam = m->dst_plen ? m->family : 0;
	u8 afam;
	int err;

	if (tb[NETLENS_A_RULE_ENABLED])
		r->enabled = nla_get_u8(tb[NETLENS_A_RULE_ENABLED]);
	if (tb[NETLENS_A_RULE_HOOKS]) {
		m->hooks = nla_get_u32(tb[NETLENS_A_RULE_HOOKS]);
		if (!m->hooks) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NETLENS_A_RULE_HOOKS],
					    "hook mask is empty: give at least one hook");
			return -EINVAL;
		}
	}
	if (tb[NETLENS_A_RULE_PROTO])
		m->proto = nla_get_u8(tb[NETLENS_A_RULE_PROTO]);
	if (tb[NETLENS_A_RULE_ACTION])
		r->action = nla_get_u8(tb[NETLENS_A_RULE_ACTION]);
	if (tb[NETLENS_A_RULE_PRIORITY])
		r->priority = nla_get_u32(tb[NETLENS_A_RULE_PRIORITY]);
	if (tb[NETLENS_A_RULE_LOG])
		r->log = nla_get_u8(tb[NETLENS_A_RULE_LOG]);
	if (tb[NETLENS_A_RULE_LOG_RATE])
		r->log_rate = nla_get_u32(tb[NETLENS_A_RULE_LOG_RATE]);
	if (tb[NETLENS_A_RULE_LABEL]) {
		if (nla_strscpy(r->label, tb[NETLENS_A_RULE_LABEL], sizeof(r->label)) < 0) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NETLENS_A_RULE_LABEL],
					    "label longer than 64 bytes");
			return -EINVAL;
		}
		if (!netlens_label_ok(r->label)) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NETLENS_A_RULE_LABEL],
					    "label has control characters");
			return -EINVAL;
		}
	}
	if (tb[NETLENS_A_RULE_IIFNAME]) {
		if (nla_strscpy(m->iifname, tb[NETLENS_A_RULE_IIFNAME], IFNAMSIZ) < 0) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NETLENS_A_RULE_IIFNAME],
					    "input interface name longer than 15 bytes");
			return -EINVAL;
		}
		if (m->iifname[0] && !dev_valid_name(m->iifname)) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NETLENS_A_RULE_IIFNAME],
					    "input interface name is not a valid interface name");
			return -EINVAL;
		}
	}
	if (tb[NETLENS_A_RULE_OIFNAME]) {
		if (nla_strscpy(m->oifname, tb[NETLENS_A_RULE_OIFNAME], IFNAMSIZ) < 0) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NETLENS_A_RULE_OIFNAME],
					    "output interface name longer than 15 bytes");
			return -EINVAL;
		}
		if (m->oifname[0] && !dev_valid_name(m->oifname)) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NETLENS_A_RULE_OIFNAME],
					    "output interface name is not a valid interface name");
			return -EINVAL;
		}
	}

	err = netlens_parse_addr(info, NETLENS_A_RULE_SRC_ADDR,
				 NETLENS_A_RULE_SRC_PLEN, &m->src, &m->src_mask,
				 &m->src_plen, &sfam, "source");
	if (err)
		return err;
	err = netlens_parse_addr(info, NETLENS_A_RULE_DST_ADDR,
				 NETLENS_A_RULE_DST_PLEN, &m->dst, &m->dst_mask,
				 &m->dst_plen, &dfam, "destination");
	if (err)
		return err;
	if (sfam && dfam && sfam != dfam) {
		NL_SET_ERR_MSG_MOD(extack,
				   "source and destination addresses are of different families");
		return -EINVAL;
	}
	afam = sfam ?: dfam;
	if (tb[NETLENS_A_RULE_FAMILY]) {
		m->family = nla_get_u8(tb[NETLENS_A_RULE_FAMILY]);
		if (afam && m->family != afam) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NETLENS_A_RULE_FAMILY],
					    "family does not match the family of the addresses");
			return -EINVAL;
		}
	} else if (afam) {
		m->family = afam;
	}

	err = netlens_parse_ports(info, NETLENS_A_RULE_SPORT_MIN,
				  NETLENS_A_RULE_SPORT_MAX, &m->sport_min,
				  &m->sport_max, true);
	if (err)
		return err;
	err = netlens_parse_ports(info, NETLENS_A_RULE_DPORT_MIN,
				  NETLENS_A_RULE_DPORT_MAX, &m->dport_min,
				  &m->dport_max, false);
	if (err)
		return err;
	err = netlens_parse_sets(info, r, afam);
	if (err)
		return err;
	if ((m->sport_min || m->sport_max != 0xffff ||
	     m->dport_min || m->dport_max != 0xffff ||
	     m->set[NETLENS_SET_SPORT] || m->set[NETLENS_SET_DPORT]) &&
	    !netlens_ports_ok(m->proto)) {
		NL_SET_ERR_MSG_MOD(extack,
				   "ports need protocol tcp (6), udp (17), udplite (136) or sctp (132)");
		return -EINVAL;
	}
	if (!r->action) {
		NL_SET_ERR_MSG_MOD(extack, "an action (ACCEPT, DROP, COUNT or REJECT) is required");
		return -EINVAL;
	}
	err = netlens_parse_l4(info, r);
	if (err)
		return err;
	return netlens_parse_reject(info, r);
}

/* ---- commands ---- */

static struct netlens_net *netlens_info_nn(struct genl_info *info)
{
	return netlens_pernet(genl_info_net(info));
}

static struct netlens_rule *netlens_find(struct netlens_net *nn,
					 struct genl_info *info)
{
	struct nlattr *a = info->attrs[NETLENS_A_RULE_ID];
	struct netlens_rule *r;

	if (!a) {
		NL_SET_ERR_MSG_MOD(info->extack, "a rule id (NETLENS_A_RULE_ID) is required");
		return ERR_PTR(-EINVAL);
	}
	r = xa_load(&nn->rules, nla_get_u32(a));
	if (!r) {
		NL_SET_ERR_MSG_ATTR(info->extack, a, "unknown rule id");
		return ERR_PTR(-ENOENT);
	}
	return r;
}

static struct netlens_txn *netlens_txn_new(struct netlens_net *nn,
					   struct genl_info *info, u32 rule_id,
					   struct netlens_rule *prev)
{
	u32 ms = nla_get_u32(info->attrs[NETLENS_A_REVERT_MS]);
	struct netlens_txn *t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);

	if (!t)
		return NULL;
	if (++nn->next_txn == 0)
		nn->next_txn = 1;
	t->id = nn->next_txn;
	t->rule_id = rule_id;
	t->deadline = jiffies + msecs_to_jiffies(ms);
	t->prev = prev;
	list_add_tail(&t->node, &nn->txns);
	return t;
}

static int netlens_check_write_attrs(struct genl_info *info)
{
	struct nlattr *rv = info->attrs[NETLENS_A_REVERT_MS];

	if (rv && (nla_get_u32(rv) < 1 || nla_get_u32(rv) > NETLENS_REVERT_MS_MAX)) {
		NL_SET_ERR_MSG_ATTR(info->extack, rv,
				    "revert deadline out of range: 1 to 3600000 ms");
		return -ERANGE;
	}
	return 0;
}

/*
 * netlens_reply_alloc - the reply of a create or change, allocated before
 * anything changes: once the rule is in, the command succeeds whatever
 * happens to the reply, so that a client never retries a change that was
 * made.
 */
static struct sk_buff *netlens_reply_alloc(void)
{
	return genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
}

/* netlens_reply_send - send the reply of a change that is made; never fails. */
static void netlens_reply_send(struct sk_buff *msg, struct genl_info *info,
			       const struct netlens_rule *r)
{
	if (netlens_rule_msg(msg, r, info->snd_portid, info->snd_seq, 0,
			     info->genlhdr->cmd, 0, 0, NULL)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_reply(msg, info);
}

static int netlens_cmd_create(struct sk_buff *skb, struct genl_info *info)
{
	struct netlens_net *nn = netlens_info_nn(info);
	struct sk_buff *msg;
	struct netlens_rule *r;
	int err;

	err = netlens_check_write_attrs(info);
	if (err)
		return err;
	r = netlens_rule_alloc();
	msg = netlens_reply_alloc();
	err = -ENOMEM;
	if (!r || !msg)
		goto free;
	r->enabled = 1;
	r->m.hooks = NETLENS_HOOK_LOCAL_IN;
	r->m.family = NETLENS_FAMILY_BOTH;
	r->m.sport_max = 0xffff;
	r->m.dport_max = 0xffff;
	r->log_rate = NETLENS_LOG_RATE_DEFAULT;
	err = netlens_parse_rule(info, r);
	if (err)
		goto free;

	mutex_lock(&nn->lock);
	err = netlens_tabs_ensure(nn);
	if (err)
		goto unlock;
	if (nn->nrules >= READ_ONCE(nn->sysctl_max_rules)) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "rule limit reached (sysctl net.netlens.max_rules)");
		err = -ENOSPC;
		goto unlock;
	}
	if (info->attrs[NETLENS_A_REVERT_MS]) {
		r->txn = netlens_txn_new(nn, info, 0, NULL);
		if (!r->txn) {
			err = -ENOMEM;
			goto unlock;
		}
	}
	err = netlens_rule_insert(nn, r);
	if (err) {
		if (err == -ENOSPC)
			NL_SET_ERR_MSG_MOD(info->extack, "no free rule id");
		else
			NL_SET_ERR_MSG_MOD(info->extack,
					   "cannot turn conntrack on for a ct state match");
		goto drop_txn;
	}
	err = netlens_hooks_sync(nn);
	if (err) {
		NL_SET_ERR_MSG_MOD(info->extack, "cannot register the netfilter hooks");
		netlens_rule_remove(nn, r);	/* frees @r after a grace period */
		netlens_hooks_sync(nn);
		mutex_unlock(&nn->lock);
		nlmsg_free(msg);
		return err;
	}
	if (r->txn) {
		r->txn->rule_id = r->id;
		netlens_txn_arm(nn);
	}
	netlens_notify(nn, NETLENS_EVENT_CREATED, r, 0);
	netlens_reply_send(msg, info, r);
	mutex_unlock(&nn->lock);
	return 0;

drop_txn:
	netlens_txn_drop(r);
unlock:
	mutex_unlock(&nn->lock);
free:
	netlens_rule_free(r);
	nlmsg_free(msg);
	return err;
}

static int netlens_cmd_change(struct sk_buff *skb, struct genl_info *info)
{
	struct netlens_net *nn = netlens_info_nn(info);
	struct netlens_rule *old, *nr, *prev = NULL;
	struct sk_buff *msg;
	int err;

	err = netlens_check_write_attrs(info);
	if (err)
		return err;
	msg = netlens_reply_alloc();
	if (!msg)
		return -ENOMEM;
	mutex_lock(&nn->lock);
	err = netlens_tabs_ensure(nn);
	if (err)
		goto unlock;
	old = netlens_find(nn, info);
	if (IS_ERR(old)) {
		err = PTR_ERR(old);
		goto unlock;
	}
	if (old->txn) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "rule has an unconfirmed change: confirm it or let it revert first");
		err = -EBUSY;
		goto unlock;
	}
	err = -ENOMEM;
	nr = netlens_rule_copy(old);
	if (!nr)
		goto unlock;
	err = netlens_parse_rule(info, nr);
	if (err) {
		netlens_rule_free(nr);
		goto unlock;
	}
	if (info->attrs[NETLENS_A_REVERT_MS]) {
		prev = netlens_rule_copy(old);
		if (!prev) {
			netlens_rule_free(nr);
			err = -ENOMEM;
			goto unlock;
		}
		prev->stats = NULL;
		prev->logst = NULL;
		nr->txn = netlens_txn_new(nn, info, old->id, prev);
		if (!nr->txn) {
			netlens_rule_free(prev);
			netlens_rule_free(nr);
			err = -ENOMEM;
			goto unlock;
		}
	}
	netlens_rule_replace(nn, old, nr);
	if (nr->txn)
		netlens_txn_arm(nn);
	/* the change is made; a hook it needs that cannot be registered is logged */
	if (netlens_hooks_sync(nn))
		pr_warn_ratelimited("rule %u: cannot register its netfilter hooks\n", nr->id);
	netlens_notify(nn, NETLENS_EVENT_CHANGED, nr, 0);
	netlens_reply_send(msg, info, nr);
	mutex_unlock(&nn->lock);
	return 0;

unlock:
	mutex_unlock(&nn->lock);
	nlmsg_free(msg);
	return err;
}

static int netlens_cmd_delete(struct sk_buff *skb, struct genl_info *info)
{
	struct netlens_net *nn = netlens_info_nn(info);
	struct netlens_rule *r;
	int err = 0;

	mutex_lock(&nn->lock);
	r = netlens_find(nn, info);
	if (IS_ERR(r)) {
		err = PTR_ERR(r);
		goto unlock;
	}
	/* a deleted rule has no pending change: its event carries no TXN_ID */
	netlens_txn_drop(r);
	netlens_notify(nn, NETLENS_EVENT_DELETED, r, 0);
	netlens_rule_remove(nn, r);
	netlens_txn_arm(nn);
	netlens_hooks_sync(nn);
unlock:
	mutex_unlock(&nn->lock);
	return err;
}

static int netlens_cmd_flush(struct sk_buff *skb, struct genl_info *info)
{
	struct netlens_net *nn = netlens_info_nn(info);

	mutex_lock(&nn->lock);
	netlens_rules_flush(nn);
	netlens_notify(nn, NETLENS_EVENT_FLUSHED, NULL, 0);
	mutex_unlock(&nn->lock);
	return 0;
}

static int netlens_cmd_confirm(struct sk_buff *skb, struct genl_info *info)
{
	struct netlens_net *nn = netlens_info_nn(info);
	struct nlattr *a = info->attrs[NETLENS_A_TXN_ID];
	struct netlens_txn *t, *found = NULL;
	struct netlens_rule *r;
	u32 id;

	if (!a) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "a transaction id (NETLENS_A_TXN_ID) is required");
		return -EINVAL;
	}
	id = nla_get_u32(a);
	mutex_lock(&nn->lock);
	list_for_each_entry(t, &nn->txns, node) {
		if (t->id == id) {
			found = t;
			break;
		}
	}
	if (!found) {
		mutex_unlock(&nn->lock);
		NL_SET_ERR_MSG_ATTR(info->extack, a,
				    "unknown transaction id: already confirmed, reverted or never made");
		return -ENOENT;
	}
	list_del(&found->node);
	r = xa_load(&nn->rules, found->rule_id);
	if (r)
		r->txn = NULL;
	netlens_notify(nn, NETLENS_EVENT_CONFIRMED, r, id);
	netlens_txn_free(found);
	netlens_txn_arm(nn);
	mutex_unlock(&nn->lock);
	return 0;
}

/* netlens_policy_txn - the pending change of a hook's policy, or NULL; lock held. */
static struct netlens_txn *netlens_policy_txn(struct netlens_net *nn, int fi, int hook)
{
	struct netlens_txn *t;

	list_for_each_entry(t, &nn->txns, node)
		if (t->policy && t->fam == fi && t->hook == hook)
			return t;
	return NULL;
}

/*
 * netlens_cmd_policy - set the default verdict of one hook and family:
 * what a packet no rule decides gets (ACCEPT unless set).  A DROP policy
 * registers the hooks even without rules.  With REVERT_MS it is a
 * commit-confirmed change like a rule's: the reply carries the TXN_ID to
 * CONFIRM, and the old verdict comes back at the deadline.
 */
static int netlens_cmd_policy(struct sk_buff *skb, struct genl_info *info)
{
	struct netlens_net *nn = netlens_info_nn(info);
	struct nlattr **tb = info->attrs;
	struct netlens_txn *t = NULL;
	struct sk_buff *msg;
	void *hdr;
	u8 old, verdict;
	int fi, hook, err;

	if (!tb[NETLENS_A_POLICY_FAMILY] || !tb[NETLENS_A_POLICY_HOOK] ||
	    !tb[NETLENS_A_POLICY_VERDICT]) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "a policy needs POLICY_FAMILY, POLICY_HOOK and POLICY_VERDICT");
		return -EINVAL;
	}
	err = netlens_check_write_attrs(info);
	if (err)
		return err;
	fi = nla_get_u8(tb[NETLENS_A_POLICY_FAMILY]) == NETLENS_FAMILY_IPV6;
	hook = nla_get_u8(tb[NETLENS_A_POLICY_HOOK]);
	verdict = nla_get_u8(tb[NETLENS_A_POLICY_VERDICT]);
	msg = netlens_reply_alloc();
	if (!msg)
		return -ENOMEM;
	mutex_lock(&nn->lock);
	/*
	 * As for a rule: one unconfirmed change at a time.  Two pending
	 * changes of one policy would revert in turn, the later to the
	 * earlier's new verdict (a DROP that outlives both deadlines).
	 */
	if (netlens_policy_txn(nn, fi, hook)) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "the policy has an unconfirmed change: confirm it or let it revert first");
		err = -EBUSY;
		goto unlock;
	}
	old = nn->policy[fi][hook] ?: NETLENS_ACTION_ACCEPT;
	if (tb[NETLENS_A_REVERT_MS]) {
		err = -ENOMEM;
		t = netlens_txn_new(nn, info, 0, NULL);
		if (!t)
			goto unlock;
		t->policy = true;
		t->fam = fi;
		t->hook = hook;
		t->prev_verdict = old;
	}
	WRITE_ONCE(nn->policy[fi][hook], verdict);
	err = netlens_hooks_sync(nn);
	if (err) {
		NL_SET_ERR_MSG_MOD(info->extack, "cannot register the netfilter hooks");
		WRITE_ONCE(nn->policy[fi][hook], old);
		if (t) {
			list_del(&t->node);
			netlens_txn_free(t);
		}
		goto unlock;
	}
	if (t)
		netlens_txn_arm(nn);
	nn->gen++;
	netlens_notify_policy(nn, fi, hook, t ? t->id : 0);
	hdr = genlmsg_put_reply(msg, info, &netlens_family, 0, NETLENS_CMD_POLICY);
	if (hdr && (!t || !nla_put_u32(msg, NETLENS_A_TXN_ID, t->id))) {
		genlmsg_end(msg, hdr);
		genlmsg_reply(msg, info);
	} else {
		nlmsg_free(msg);
	}
	mutex_unlock(&nn->lock);
	return 0;

unlock:
	mutex_unlock(&nn->lock);
	nlmsg_free(msg);
	return err;
}

static int netlens_cmd_get(struct sk_buff *skb, struct genl_info *info)
{
	struct netlens_net *nn = netlens_info_nn(info);
	struct netlens_rule *r;
	int err;

	mutex_lock(&nn->lock);
	r = netlens_find(nn, info);
	err = IS_ERR(r) ? PTR_ERR(r) : netlens_reply_rule(info, r);
	mutex_unlock(&nn->lock);
	return err;
}

static int netlens_dump_rules(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct netlens_net *nn = netlens_pernet(sock_net(skb->sk));
	struct netlens_rule *r;
	unsigned long id;

	if (cb->args[1])	/* done */
		return 0;
	mutex_lock(&nn->lock);
	cb->seq = nn->gen;
	xa_for_each_start(&nn->rules, id, r, cb->args[0]) {
		if (netlens_rule_msg(skb, r, NETLINK_CB(cb->skb).portid,
				     cb->nlh->nlmsg_seq, NLM_F_MULTI,
				     NETLENS_CMD_GET, 0, 0, cb)) {
			cb->args[0] = id;
			mutex_unlock(&nn->lock);
			return skb->len ?: -EMSGSIZE;
		}
	}
	cb->args[1] = 1;
	mutex_unlock(&nn->lock);
	return skb->len;
}

/*
 * netlens_dump_set - GET_SET: the elements of one set of one rule, as many
 * messages as they need (each with RULE_ID, SET_FIELD and the set's nest of
 * elements).  cb->args[0] is where the next message starts; a rule changed
 * in between flags the dump NLM_F_DUMP_INTR (the client starts again).
 */
static int netlens_dump_set(struct sk_buff *skb, struct netlink_callback *cb)
{
	static const int attr[] = {
		[NETLENS_SET_SRC] = NETLENS_A_RULE_SRC_SET,
		[NETLENS_SET_DST] = NETLENS_A_RULE_DST_SET,
		[NETLENS_SET_SPORT] = NETLENS_A_RULE_SPORT_SET,
		[NETLENS_SET_DPORT] = NETLENS_A_RULE_DPORT_SET,
	};
	const struct genl_dumpit_info *di = genl_dumpit_info(cb);
	struct netlens_net *nn = netlens_pernet(sock_net(skb->sk));
	struct nlattr *id = di->attrs[NETLENS_A_RULE_ID];
	struct nlattr *fa = di->attrs[NETLENS_A_SET_FIELD];
	struct netlens_rule *r;
	const struct netlens_set *set;
	u32 cursor = cb->args[0];
	void *hdr;
	int field, err = 0;

	if (cursor == U32_MAX)	/* done */
		return 0;
	if (!id || !fa) {
		NL_SET_ERR_MSG_MOD(cb->extack, "GET_SET needs RULE_ID and SET_FIELD");
		return -EINVAL;
	}
	field = nla_get_u8(fa);
	mutex_lock(&nn->lock);
	cb->seq = nn->gen;
	r = xa_load(&nn->rules, nla_get_u32(id));
	if (!r) {
		NL_SET_ERR_MSG_ATTR(cb->extack, id, "unknown rule id");
		err = -ENOENT;
		goto unlock;
	}
	set = r->m.set[field];
	if (!set) {
		NL_SET_ERR_MSG_ATTR(cb->extack, fa, "the rule has no such set");
		err = -ENOENT;
		goto unlock;
	}
	while (cursor != U32_MAX) {
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
				  &netlens_family, NLM_F_MULTI, NETLENS_CMD_GET_SET);
		if (!hdr)
			break;
		genl_dump_check_consistent(cb, hdr);
		if (nla_put_u32(skb, NETLENS_A_RULE_ID, r->id) ||
		    nla_put_u8(skb, NETLENS_A_SET_FIELD, field) ||
		    netlens_set_fill(skb, set, attr[field], &cursor)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
	}
	cb->args[0] = cursor;
	err = skb->len ?: -EMSGSIZE;
unlock:
	mutex_unlock(&nn->lock);
	return err;
}

/* the pending policy changes, read under the lock for COUNTERS */
struct netlens_policy_pending {
	u32 txn[2][NETLENS_NHOOKS];
	u32 left_ms[2][NETLENS_NHOOKS];
};

static int netlens_put_hook_stats(struct sk_buff *skb, struct netlens_net *nn,
				  const struct netlens_policy_pending *pp)
{
	struct netlens_hook_counts sum;
	struct nlattr *nest;
	int f, h;

	netlens_hook_read_stats(nn, &sum);
	for (f = 0; f < 2; f++) {
		for (h = 0; h < NETLENS_NHOOKS; h++) {
			nest = nla_nest_start(skb, NETLENS_A_HOOK_STATS);
			if (!nest)
				return -EMSGSIZE;
			if (nla_put_u8(skb, NETLENS_A_HS_FAMILY,
				       f ? NETLENS_FAMILY_IPV6 : NETLENS_FAMILY_IPV4) ||
			    nla_put_u8(skb, NETLENS_A_HS_HOOK, h) ||
			    nla_put_u64_64bit(skb, NETLENS_A_HS_SEEN,
					      sum.seen[f][h], NETLENS_A_HS_PAD) ||
			    nla_put_u64_64bit(skb, NETLENS_A_HS_ACCEPTED,
					      sum.accepted[f][h], NETLENS_A_HS_PAD) ||
			    nla_put_u64_64bit(skb, NETLENS_A_HS_DROPPED,
					      sum.dropped[f][h], NETLENS_A_HS_PAD) ||
			    nla_put_u64_64bit(skb, NETLENS_A_HS_EXAMINED,
					      sum.examined[f][h], NETLENS_A_HS_PAD) ||
			    nla_put_u8(skb, NETLENS_A_HS_POLICY,
				       READ_ONCE(nn->policy[f][h]) ?: NETLENS_ACTION_ACCEPT) ||
			    (pp->txn[f][h] &&
			     (nla_put_u32(skb, NETLENS_A_HS_TXN_ID, pp->txn[f][h]) ||
			      nla_put_u32(skb, NETLENS_A_HS_REVERT_MS, pp->left_ms[f][h])))) {
				nla_nest_cancel(skb, nest);
				return -EMSGSIZE;
			}
			nla_nest_end(skb, nest);
		}
	}
	return 0;
}

static int netlens_cmd_counters(struct sk_buff *skb, struct genl_info *info)
{
	struct netlens_net *nn = netlens_info_nn(info);
	struct netlens_policy_pending pp = {};
	unsigned long now = jiffies;
	struct netlens_txn *t;
	struct sk_buff *msg;
	void *hdr;
	u32 n, hooks;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &netlens_family, 0,
				NETLENS_CMD_COUNTERS);
	if (!hdr)
		goto nospace;
	mutex_lock(&nn->lock);
	n = nn->nrules;
	hooks = nn->hooks_on;
	list_for_each_entry(t, &nn->txns, node) {
		if (!t->policy)
			continue;
		pp.txn[t->fam][t->hook] = t->id;
		if (time_after(t->deadline, now))
			pp.left_ms[t->fam][t->hook] = jiffies_to_msecs(t->deadline - now);
	}
	mutex_unlock(&nn->lock);
	if (nla_put_u32(msg, NETLENS_A_RULE_COUNT, n) ||
	    nla_put_u32(msg, NETLENS_A_HOOKS_REGISTERED, hooks) ||
	    netlens_put_hook_stats(msg, nn, &pp))
		goto cancel;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

cancel:
	genlmsg_cancel(msg, hdr);
nospace:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/*
 * Privileges (one model, see docs/kernelmod.md): reading (GET, COUNTERS,
 * the events group, /proc/net/netlens) is open to every process of the
 * namespace; every change needs CAP_NET_ADMIN in the initial user namespace
 * (GENL_ADMIN_PERM), and the sysctls are read-only in namespaces owned by
 * another user namespace, so root of a container can neither change nor
 * bypass the rules the host put in its namespace.
 */
static const struct genl_ops netlens_ops[] = {
	{
		.cmd = NETLENS_CMD_CREATE,
		.doit = netlens_cmd_create,
		.policy = netlens_create_policy,
		.maxattr = NETLENS_A_MAX,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = NETLENS_CMD_DELETE,
		.doit = netlens_cmd_delete,
		.policy = netlens_delete_policy,
		.maxattr = NETLENS_A_MAX,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = NETLENS_CMD_CHANGE,
		.doit = netlens_cmd_change,
		.policy = netlens_change_policy,
		.maxattr = NETLENS_A_MAX,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = NETLENS_CMD_GET,
		.doit = netlens_cmd_get,
		.dumpit = netlens_dump_rules,
		.policy = netlens_get_policy,
		.maxattr = NETLENS_A_MAX,
	},
	{
		.cmd = NETLENS_CMD_GET_SET,
		.dumpit = netlens_dump_set,
		.policy = netlens_get_set_policy,
		.maxattr = NETLENS_A_MAX,
	},
	{
		.cmd = NETLENS_CMD_COUNTERS,
		.doit = netlens_cmd_counters,
		.policy = netlens_counters_policy,
		.maxattr = NETLENS_A_MAX,
	},
	{
		.cmd = NETLENS_CMD_FLUSH,
		.doit = netlens_cmd_flush,
		.policy = netlens_flush_policy,
		.maxattr = NETLENS_A_MAX,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = NETLENS_CMD_POLICY,
		.doit = netlens_cmd_policy,
		.policy = netlens_policy_policy,
		.maxattr = NETLENS_A_MAX,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = NETLENS_CMD_CONFIRM,
		.doit = netlens_cmd_confirm,
		.policy = netlens_confirm_policy,
		.maxattr = NETLENS_A_MAX,
		.flags = GENL_ADMIN_PERM,
	},
};

static struct genl_family netlens_family __ro_after_init = {
	.name		= NETLENS_GENL_NAME,
	.version	= NETLENS_GENL_VERSION,
	.maxattr	= NETLENS_A_MAX,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.ops		= netlens_ops,
	.n_ops		= ARRAY_SIZE(netlens_ops),
	.mcgrps		= netlens_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(netlens_mcgrps),
};

int netlens_genl_init(void)
{
	int err = genl_register_family(&netlens_family);

	if (err)
		return err;
	down_write(&netlens_genl_rwsem);
	netlens_genl_live = true;
	up_write(&netlens_genl_rwsem);
	WRITE_ONCE(netlens_packets_live, true);
	return 0;
}

void netlens_genl_exit(void)
{
	down_write(&netlens_genl_rwsem);
	netlens_genl_live = false;
	up_write(&netlens_genl_rwsem);
	WRITE_ONCE(netlens_packets_live, false);
	synchronize_net();	/* no hook is still sending a packet event */
	genl_unregister_family(&netlens_family);
}
