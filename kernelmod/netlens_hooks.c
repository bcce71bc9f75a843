// SPDX-License-Identifier: GPL-2.0
/*
 * netlens_hooks.c - the verdict path: IPv4 and IPv6 on all five netfilter
 * hooks of a namespace.  Runs under the RCU read lock the netfilter core
 * holds; takes no lock; counts in per-CPU counters.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/timekeeping.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <asm/unaligned.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/ipv4/nf_reject.h>
#include <net/netfilter/ipv6/nf_reject.h>
#include "netlens.h"

static bool netlens_ports_proto(u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	       proto == IPPROTO_UDPLITE || proto == IPPROTO_SCTP;
}

/* netlens_parse_ports - ports, and the TCP flags or the ICMP type and code */
static void netlens_parse_ports(const struct sk_buff *skb, unsigned int off,
				struct netlens_pkt *p)
{
	u8 buf[14];
	const u8 *h;

	if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6) {
		h = skb_header_pointer(skb, off, 2, buf);
		if (h) {
			p->icmp_type = h[0];
			p->icmp_code = h[1];
			p->has_icmp = true;
		}
		return;
	}
	if (!netlens_ports_proto(p->proto))
		return;
	h = skb_header_pointer(skb, off, p->proto == IPPROTO_TCP ? 14 : 4, buf);
	if (!h)
		return;
	p->sport = get_unaligned_be16(h);
	p->dport = get_unaligned_be16(h + 2);
	p->has_ports = true;
	if (p->proto == IPPROTO_TCP) {
		p->tcp_flags = h[13];
		p->has_tcp_flags = true;
	}
}

static bool netlens_parse4(const struct sk_buff *skb, struct netlens_pkt *p)
{
	struct iphdr _iph;
	const struct iphdr *iph;

	iph = skb_header_pointer(skb, skb_network_offset(skb), sizeof(_iph),
				 &_iph);
	if (!iph || iph->ihl < 5)
		return false;
	p->family = NETLENS_FAMILY_IPV4;
	p->proto = iph->protocol;
	p->src.ip = iph->saddr;
	p->dst.ip = iph->daddr;
	if (!(iph->frag_off & htons(IP_OFFSET))) {
		p->thoff = skb_network_offset(skb) + iph->ihl * 4;
		p->l4_todo = true;
	}
	return true;
}

static bool netlens_parse6(const struct sk_buff *skb, struct netlens_pkt *p)
{
	struct ipv6hdr _ip6h;
	const struct ipv6hdr *ip6h;
	unsigned int thoff = 0;
	unsigned short fragoff = 0;
	int proto;

	ip6h = skb_header_pointer(skb, skb_network_offset(skb), sizeof(_ip6h),
				  &_ip6h);
	if (!ip6h)
		return false;
	p->family = NETLENS_FAMILY_IPV6;
	p->src.in6 = ip6h->saddr;
	p->dst.in6 = ip6h->daddr;
	proto = ipv6_find_hdr(skb, &thoff, -1, &fragoff, NULL);
	if (proto < 0)
		return true;	/* no L4 header found: matches proto-any rules only */
	p->proto = proto;
	if (!fragoff) {
		p->thoff = thoff;
		p->l4_todo = true;
	}
	return true;
}

/* netlens_pkt_l4 - parse the L4 header on its first use */
static inline void netlens_pkt_l4(struct netlens_pkt *p)
{
	if (p->l4_todo) {
		p->l4_todo = false;
		netlens_parse_ports(p->skb, p->thoff, p);
	}
}

/* netlens_match_needs_l4 - whether a match looks at the L4 header */
bool netlens_match_needs_l4(const struct netlens_match *m)
{
	return m->set[NETLENS_SET_DPORT] || m->set[NETLENS_SET_SPORT] ||
	       m->dport_min != 0 || m->dport_max != 0xffff ||
	       m->sport_min != 0 || m->sport_max != 0xffff ||
	       m->has_icmp_type || m->tcp_mask;
}

static bool netlens_addr_match(u8 family, const union nf_inet_addr *a,
			       const union nf_inet_addr *net,
			       const union nf_inet_addr *mask)
{
	if (family == NETLENS_FAMILY_IPV4)
		return !((a->ip ^ net->ip) & mask->ip);
	return !ipv6_masked_addr_cmp(&a->in6, &mask->in6, &net->in6);
}

/* a match that fails: @hit is whether it matched, @negbit its negation bit */
#define NETLENS_MISS(m, negbit, hit)	(!!(hit) == !!((m)->neg & (negbit)))

static bool netlens_match(const struct netlens_rule *r,
			  struct netlens_pkt *p, u32 hookbit)
{
	const struct netlens_match *m = &r->m;

	if (!(m->hooks & hookbit) || !(m->family & p->family))
		return false;
	if (m->proto && m->proto != p->proto)
		return false;
	if (m->needs_l4)
		netlens_pkt_l4(p);
	if (m->dst_plen &&
	    NETLENS_MISS(m, NETLENS_NEG_DST,
			 netlens_addr_match(p->family, &p->dst, &m->dst, &m->dst_mask)))
		return false;
	if (m->set[NETLENS_SET_DST] &&
	    NETLENS_MISS(m, NETLENS_NEG_DST,
			 netlens_set_has_addr(m->set[NETLENS_SET_DST], &p->dst)))
		return false;
	if (m->set[NETLENS_SET_SRC] &&
	    NETLENS_MISS(m, NETLENS_NEG_SRC,
			 netlens_set_has_addr(m->set[NETLENS_SET_SRC], &p->src)))
		return false;
	if (m->set[NETLENS_SET_DPORT] &&
	    NETLENS_MISS(m, NETLENS_NEG_DPORT, p->has_ports &&
			 netlens_set_has_port(m->set[NETLENS_SET_DPORT], p->dport)))
		return false;
	if (m->set[NETLENS_SET_SPORT] &&
	    NETLENS_MISS(m, NETLENS_NEG_SPORT, p->has_ports &&
			 netlens_set_has_port(m->set[NETLENS_SET_SPORT], p->sport)))
		return false;
	if (m->src_plen &&
	    NETLENS_MISS(m, NETLENS_NEG_SRC,
			 netlens_addr_match(p->family, &p->src, &m->src, &m->src_mask)))
		return false;
	if ((m->dport_min != 0 || m->dport_max != 0xffff) &&
	    NETLENS_MISS(m, NETLENS_NEG_DPORT,
			 p->has_ports && p->dport >= m->dport_min &&
			 p->dport <= m->dport_max))
		return false;
	if ((m->sport_min != 0 || m->sport_max != 0xffff) &&
	    NETLENS_MISS(m, NETLENS_NEG_SPORT,
			 p->has_ports && p->sport >= m->sport_min &&
			 p->sport <= m->sport_max))
		return false;
	if (m->iifname[0] &&
	    NETLENS_MISS(m, NETLENS_NEG_IIF,
			 p->in && !strncmp(p->in->name, m->iifname, IFNAMSIZ)))
		return false;
	if (m->oifname[0] &&
	    NETLENS_MISS(m, NETLENS_NEG_OIF,
			 p->out && !strncmp(p->out->name, m->oifname, IFNAMSIZ)))
		return false;
	if (m->has_icmp_type &&
	    NETLENS_MISS(m, NETLENS_NEG_ICMP,
			 p->has_icmp && p->icmp_type == m->icmp_type &&
			 (!m->has_icmp_code || p->icmp_code == m->icmp_code)))
		return false;
	if (m->ct_state &&
	    NETLENS_MISS(m, NETLENS_NEG_CT, p->ct_state & m->ct_state))
		return false;
	if (m->tcp_mask &&
	    NETLENS_MISS(m, NETLENS_NEG_TCP_FLAGS,
			 p->has_tcp_flags && (p->tcp_flags & m->tcp_mask) == m->tcp_flags))
		return false;
	return true;
}

/*
 * A probe: one chain to walk and the key that chain was looked up with, so
 * that a rule is only taken from the probe of its own key (hash collisions
 * put rules with other keys in the same chain).
 */
struct netlens_probe {
	struct hlist_head *head;
	int idx;
	u8 plen;
	u16 port;
};

/* netlens_count - one hit of @r; BH disabled (one writer per CPU). */
static void netlens_count(const struct netlens_rule *r,
			  const struct sk_buff *skb)
{
	struct netlens_rule_stats *s = this_cpu_ptr(r->stats);

	u64_stats_update_begin(&s->syncp);
	u64_stats_inc(&s->packets);
	u64_stats_add(&s->bytes, skb->len);
	u64_stats_set(&s->last_hit_ns, ktime_get_coarse_real_ns());
	u64_stats_update_end(&s->syncp);
}

static bool netlens_probe_owns(const struct netlens_probe *pr,
			       const struct netlens_rule *r)
{
	switch (pr->idx) {
	case NETLENS_IDX_DST4:
	case NETLENS_IDX_DST6:
		return r->m.dst_plen == pr->plen;
	case NETLENS_IDX_SRC4:
	case NETLENS_IDX_SRC6:
		return r->m.src_plen == pr->plen;
	case NETLENS_IDX_DPORT:
		return r->m.dport_min == pr->port;
	default:
		return true;
	}
}

/* what one pass over the probes is looking for */
struct netlens_scan {
	struct netlens_tabs *tabs;	/* NULL: no rule ever needed the hash tables */
	const struct sk_buff *skb;
	struct netlens_pkt *p;
	const struct nf_hook_state *state;
	u32 hookbit;
	bool counting;			/* pass 2: count COUNT rules before @best */
	const struct netlens_rule *best;
	unsigned int examined;		/* rules looked at, both passes */
};

static void netlens_walk(const struct netlens_probe *pr, struct netlens_scan *s)
{
	const struct netlens_rule *r;

	hlist_for_each_entry_rcu(r, pr->head, node) {
		s->examined++;
		if (s->best && !netlens_rule_before(r, s->best))
			return;
		if ((r->action == NETLENS_ACTION_COUNT) != s->counting ||
		    !netlens_probe_owns(pr, r) ||
		    !netlens_match(r, s->p, s->hookbit))
			continue;
		if (s->counting) {
			netlens_count(r, s->skb);
			if (r->log) {
				netlens_pkt_l4(s->p);
				netlens_log_packet(r, s->skb, s->p, s->state,
						   NETLENS_ACTION_COUNT);
			}
		} else {
			s->best = r;
			return;
		}
	}
}

static void netlens_walk_prefixes(struct netlens_net *nn, int idx,
				  const union nf_inet_addr *addr,
				  struct netlens_scan *s)
{
	bool v4 = idx == NETLENS_IDX_DST4 || idx == NETLENS_IDX_SRC4;
	struct netlens_probe pr = { .idx = idx };
	union nf_inet_addr masked = {};
	int w;

	/*
	 * the prefix lengths in use, a word of the bitmap at a time with
	 * inline bit operations (for_each_set_bit calls out per length)
	 */
	for (w = 0; w < BITS_TO_LONGS(v4 ? 33 : 129); w++) {
		unsigned long bits = READ_ONCE(nn->plen_map[idx][w]);

		if (!w)
			bits &= ~1UL;		/* length 0 is never a key */
		while (bits) {
			unsigned int plen = w * BITS_PER_LONG + __ffs(bits);

			bits &= bits - 1;
			if (v4)
				masked.ip = addr->ip & inet_make_mask(plen);
			else
				ipv6_addr_prefix(&masked.in6, &addr->in6, plen);
			pr.plen = plen;
			pr.head = &s->tabs->b[idx][netlens_bucket(idx, &masked, plen, 0)];
			netlens_walk(&pr, s);
		}
	}
}

/* netlens_scan - one pass over every chain the packet can match in. */
static void netlens_scan(struct netlens_net *nn, struct netlens_scan *s)
{
	struct netlens_pkt *p = s->p;
	bool v4 = p->family == NETLENS_FAMILY_IPV4;
	struct netlens_probe pr = {};

	if (s->tabs) {
		netlens_walk_prefixes(nn, v4 ? NETLENS_IDX_DST4 : NETLENS_IDX_DST6,
				      &p->dst, s);
		if (READ_ONCE(nn->ndport))
			netlens_pkt_l4(p);	/* the port index needs the ports */
		if (p->has_ports) {
			pr.idx = NETLENS_IDX_DPORT;
			pr.port = p->dport;
			pr.head = &s->tabs->b[NETLENS_IDX_DPORT]
				[netlens_bucket(NETLENS_IDX_DPORT, NULL, 0, p->dport)];
			netlens_walk(&pr, s);
		}
		netlens_walk_prefixes(nn, v4 ? NETLENS_IDX_SRC4 : NETLENS_IDX_SRC6,
				      &p->src, s);
	}
	pr.idx = NETLENS_IDX_MISC;
	pr.head = &nn->misc;
	netlens_walk(&pr, s);
}

static const struct netlens_rule *
netlens_lookup(struct netlens_net *nn, const struct sk_buff *skb,
	       struct netlens_pkt *p, const struct nf_hook_state *state,
	       unsigned int *examined)
{
	u32 hookbit = BIT(state->hook);
	struct netlens_scan s = {
		.tabs = rcu_dereference(nn->tabs),
		.skb = skb,
		.p = p,
		.state = state,
		.hookbit = hookbit,
	};

	/* pass 1: the first ACCEPT/DROP rule in (priority, id) order */
	netlens_scan(nn, &s);
	/* pass 2: the COUNT rules that come before it */
	if (READ_ONCE(nn->ncount)) {
		s.counting = true;
		netlens_scan(nn, &s);
	}
	*examined = s.examined;
	return s.best;
}

/*
 * netlens_reject - answer the packet a REJECT rule matched (it is dropped
 * after): a TCP reset, or an ICMP/ICMPv6 destination unreachable with the
 * rule's code (the family's port unreachable for a dual-family rule).  The
 * reply goes out through the stack and may pass our hooks again.
 */
static void netlens_reject(const struct netlens_rule *r, struct sk_buff *skb,
			   const struct nf_hook_state *state, bool v6)
{
	if (r->reject_with == NETLENS_REJECT_TCP_RESET) {
		if (v6)
			nf_send_reset6(state->net, state->sk, skb, state->hook);
		else
			nf_send_reset(state->net, state->sk, skb, state->hook);
		return;
	}
	if (v6)
		nf_send_unreach6(state->net, skb,
				 r->m.family == NETLENS_FAMILY_BOTH ?
				 NETLENS_REJECT_CODE_DEFAULT6 : r->reject_code,
				 state->hook);
	else
		nf_send_unreach(skb, r->m.family == NETLENS_FAMILY_BOTH ?
				NETLENS_REJECT_CODE_DEFAULT4 : r->reject_code,
				state->hook);
}

/* netlens_ct_state - the conntrack state of @skb as a NETLENS_CT_* bit */
u8 netlens_ct_state(const struct sk_buff *skb)
{
	enum ip_conntrack_info ctinfo;
	const struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

	if (!ct)
		return ctinfo == IP_CT_UNTRACKED ? NETLENS_CT_UNTRACKED :
						   NETLENS_CT_INVALID;
	switch (ctinfo) {
	case IP_CT_NEW:
		return NETLENS_CT_NEW;
	case IP_CT_RELATED:
	case IP_CT_RELATED_REPLY:
		return NETLENS_CT_RELATED;
	default:
		return NETLENS_CT_ESTABLISHED;
	}
}

static unsigned int netlens_hook(void *priv, struct sk_buff *skb,
				 const struct nf_hook_state *state)
{
	struct netlens_net *nn = priv;
	const struct netlens_rule *r = NULL;
	struct netlens_hook_stats *hs;
	struct netlens_pkt p = {};
	unsigned int hook = state->hook, examined = 0;
	unsigned int verdict = NF_ACCEPT;
	int fi = state->pf == NFPROTO_IPV6;
	bool bh;

	if (hook >= NETLENS_NHOOKS)
		return NF_ACCEPT;
	/*
	 * LOCAL_OUT runs in process context with BH enabled: disable it so
	 * that the per-CPU counters have one writer at a time (u64_stats).
	 * The other hooks run in softirq (or with BH off already): nothing
	 * to do there.
	 */
	bh = !in_softirq();
	if (bh)
		local_bh_disable();
	p.skb = skb;
	if (READ_ONCE(nn->hook_rules[fi][hook]) && READ_ONCE(nn->sysctl_enabled) &&
	    (fi ? netlens_parse6(skb, &p) : netlens_parse4(skb, &p))) {
		p.in = state->in;
		p.out = state->out;
		if (READ_ONCE(nn->ct_rules))
			p.ct_state = netlens_ct_state(skb);
		r = netlens_lookup(nn, skb, &p, state, &examined);
	}
	if (!r && READ_ONCE(nn->policy[fi][hook]) == NETLENS_ACTION_DROP &&
	    READ_ONCE(nn->sysctl_enabled))
		verdict = NF_DROP;	/* the default policy */
	if (r) {
		netlens_count(r, skb);
		if (r->log) {
			netlens_pkt_l4(&p);
			netlens_log_packet(r, skb, &p, state, r->action);
		}
		if (r->action == NETLENS_ACTION_REJECT)
			netlens_reject(r, skb, state, fi);
		if (r->action == NETLENS_ACTION_DROP ||
		    r->action == NETLENS_ACTION_REJECT)
			verdict = NF_DROP;
	}
	hs = this_cpu_ptr(nn->hstats);
	u64_stats_update_begin(&hs->syncp);
	u64_stats_add(&hs->examined[fi][hook], examined);
	u64_stats_inc(verdict == NF_DROP ? &hs->dropped[fi][hook] :
					   &hs->accepted[fi][hook]);
	u64_stats_update_end(&hs->syncp);
	if (bh)
		local_bh_enable();
	return verdict;
}

/* netlens_hook_read_stats - the namespace's verdict counters summed over CPUs. */
void netlens_hook_read_stats(const struct netlens_net *nn,
			     struct netlens_hook_counts *sum)
{
	int cpu, f, h;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		const struct netlens_hook_stats *s = per_cpu_ptr(nn->hstats, cpu);
		struct netlens_hook_counts c;
		unsigned int start;

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			for (f = 0; f < 2; f++) {
				for (h = 0; h < NETLENS_NHOOKS; h++) {
					c.accepted[f][h] = u64_stats_read(&s->accepted[f][h]);
					c.dropped[f][h] = u64_stats_read(&s->dropped[f][h]);
					c.examined[f][h] = u64_stats_read(&s->examined[f][h]);
				}
			}
		} while (u64_stats_fetch_retry(&s->syncp, start));
		for (f = 0; f < 2; f++) {
			for (h = 0; h < NETLENS_NHOOKS; h++) {
				sum->seen[f][h] += c.accepted[f][h] + c.dropped[f][h];
				sum->accepted[f][h] += c.accepted[f][h];
				sum->dropped[f][h] += c.dropped[f][h];
				sum->examined[f][h] += c.examined[f][h];
			}
		}
	}
}

/* netlens_hooks_init - fill in the hook ops of @nn; nothing is registered. */
void netlens_hooks_init(struct netlens_net *nn)
{
	int h;

	for (h = 0; h < NETLENS_NHOOKS; h++) {
		struct nf_hook_ops *o4 = &nn->ops[h];
		struct nf_hook_ops *o6 = &nn->ops[NETLENS_NHOOKS + h];

		o4->hook = netlens_hook;
		o4->priv = nn;
		o4->pf = NFPROTO_IPV4;
		o4->hooknum = h;
		o4->priority = netlens_hook_priority;
		*o6 = *o4;
		o6->pf = NFPROTO_IPV6;
	}
}

/*
 * netlens_hooks_sync - register exactly the hooks (family and hook) where
 * an enabled rule or a DROP default policy is, and unregister the others
 * (as nf_tables registers only its base chains' hooks): a namespace without
 * rules has none, and a rule at LOCAL_IN costs nothing at the other hooks.
 * Called after every change of the rules or policies.  Lock held.
 *
 * nf_unregister_net_hook() does not wait for packets already in
 * netlens_hook(): what they read (@nn, its counters, the index tables) lives
 * until the namespace's .exit, which runs a grace period after .pre_exit
 * (see netlens_main.c), and rules are freed with call_rcu.
 */
int netlens_hooks_sync(struct netlens_net *nn)
{
	int err, i, on = 0;

	lockdep_assert_held(&nn->lock);
	for (i = 0; i < ARRAY_SIZE(nn->ops); i++) {
		int f = i / NETLENS_NHOOKS, h = i % NETLENS_NHOOKS;
		bool want = !nn->dying && (nn->hook_rules[f][h] > 0 ||
					   nn->policy[f][h] == NETLENS_ACTION_DROP);

		if (want != nn->op_on[i]) {
			if (want) {
				err = nf_register_net_hook(nn->net, &nn->ops[i]);
				if (err)
					return err;
			} else {
				nf_unregister_net_hook(nn->net, &nn->ops[i]);
			}
			nn->op_on[i] = want;
		}
		on += want;
	}
	nn->hooks_on = on;
	return 0;
}

/* netlens_hooks_unregister - detach the hooks for good (pre_exit); takes the lock. */
void netlens_hooks_unregister(struct netlens_net *nn)
{
	mutex_lock(&nn->lock);
	nn->dying = true;
	netlens_hooks_sync(nn);
	mutex_unlock(&nn->lock);
}
