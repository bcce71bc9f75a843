// SPDX-License-Identifier: GPL-2.0
/*
 * netlens_log.c - the packet log: a rule with the LOG flag sends one event
 * per matched packet to the "packets" multicast group (rule id, hook,
 * interfaces, verdict, the L3/L4 tuple, length, TCP flags, conntrack
 * state), at most log_rate a second with a burst of as many (a per-rule
 * token bucket).  Packets over the rate, or whose event cannot be built,
 * are counted in the rule's LOG_DROPPED, never silently lost; a subscriber
 * that reads too slowly gets ENOBUFS from its socket (counted on its side).
 * Runs in the packet path: no lock, GFP_ATOMIC, nothing when nobody
 * listens.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ktime.h>
#include <linux/timekeeping.h>
#include <linux/atomic.h>
#include <net/genetlink.h>
#include "netlens.h"

/*
 * netlens_log_admit - take a token from @r's bucket (GCRA, lock-free): an
 * event is allowed when the theoretical arrival time is at most a second
 * (the burst) minus one interval ahead of now.
 */
static bool netlens_log_admit(const struct netlens_rule *r)
{
	struct netlens_log_state *ls = r->logst;
	s64 now = ktime_get_mono_fast_ns();
	s64 interval = NSEC_PER_SEC / max_t(u32, r->log_rate, 1);
	s64 tat, next;

	do {
		tat = atomic64_read(&ls->tat);
		next = max(tat, now);
		if (next - now > NSEC_PER_SEC - interval)
			return false;
		next += interval;
	} while (atomic64_cmpxchg(&ls->tat, tat, next) != tat);
	return true;
}

static int netlens_log_fill(struct sk_buff *msg, const struct netlens_rule *r,
			    const struct sk_buff *skb, const struct netlens_pkt *p,
			    const struct nf_hook_state *state, u8 verdict)
{
	int alen = p->family == NETLENS_FAMILY_IPV4 ? 4 : 16;

	if (nla_put_u32(msg, NETLENS_A_RULE_ID, r->id) ||
	    nla_put_u8(msg, NETLENS_A_PKT_HOOK, state->hook) ||
	    nla_put_u32(msg, NETLENS_A_PKT_IIF, state->in ? state->in->ifindex : 0) ||
	    nla_put_u32(msg, NETLENS_A_PKT_OIF, state->out ? state->out->ifindex : 0) ||
	    nla_put_u8(msg, NETLENS_A_PKT_VERDICT, verdict) ||
	    nla_put_u8(msg, NETLENS_A_PKT_FAMILY, p->family) ||
	    nla_put_u8(msg, NETLENS_A_PKT_PROTO, p->proto) ||
	    nla_put(msg, NETLENS_A_PKT_SRC, alen, &p->src) ||
	    nla_put(msg, NETLENS_A_PKT_DST, alen, &p->dst) ||
	    (p->has_ports && (nla_put_u16(msg, NETLENS_A_PKT_SPORT, p->sport) ||
			      nla_put_u16(msg, NETLENS_A_PKT_DPORT, p->dport))) ||
	    (p->has_tcp_flags && nla_put_u8(msg, NETLENS_A_PKT_TCP_FLAGS, p->tcp_flags)) ||
	    (p->has_icmp && (nla_put_u8(msg, NETLENS_A_PKT_ICMP_TYPE, p->icmp_type) ||
			     nla_put_u8(msg, NETLENS_A_PKT_ICMP_CODE, p->icmp_code))) ||
	    nla_put_u8(msg, NETLENS_A_PKT_CT_STATE, netlens_ct_state(skb)) ||
	    nla_put_u32(msg, NETLENS_A_PKT_LEN, skb->len) ||
	    nla_put_u64_64bit(msg, NETLENS_A_PKT_TIME_NS, ktime_get_real_ns(), NETLENS_A_PAD))
		return -EMSGSIZE;
	return 0;
}

/*
 * netlens_log_packet - log one packet @r matched, if anyone in the
 * namespace listens and the rule's rate allows; under RCU, BH disabled.
 */
void netlens_log_packet(const struct netlens_rule *r, const struct sk_buff *skb,
			const struct netlens_pkt *p,
			const struct nf_hook_state *state, u8 verdict)
{
	struct sk_buff *msg;
	void *hdr;

	if (!netlens_packets_wanted(state->net))
		return;
	if (!netlens_log_admit(r)) {
		atomic64_inc(&r->logst->dropped);
		return;
	}
	msg = netlens_packets_new(&hdr);
	if (!msg) {
		atomic64_inc(&r->logst->dropped);
		return;
	}
	if (netlens_log_fill(msg, r, skb, p, state, verdict)) {
		nlmsg_free(msg);
		atomic64_inc(&r->logst->dropped);
		return;
	}
	genlmsg_end(msg, hdr);
	netlens_packets_send(state->net, msg);
}

/* netlens_log_dropped - the rule's matched packets that were not logged */
u64 netlens_log_dropped(const struct netlens_rule *r)
{
	return r->logst ? atomic64_read(&r->logst->dropped) : 0;
}
