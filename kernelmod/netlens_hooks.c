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

/* netlens_ports_set - the ports (and TCP flags) of the L4 header at @h */
static __always_inline void netlens_ports_set(const u8 *h, struct netlens_pkt *p)
{
	p->sport = get_unaligned_be16(h);
	p->dport = get_unaligned_be16(h + 2);
	p->has_ports = true;
	if (p->proto == IPPROTO_TCP) {
		p->tcp_flags = h[13];
		p->has_tcp_flags = true;
	}
}

/* netlens_parse_ports - ports, and the TCP flags or the ICMP type and code */
static noinline void netlens_parse_ports(const struct sk_buff *skb,
					 unsigned int off,
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
	if (h)
		netlens_ports_set(h, p);
}

/*
 * netlens_parse4 - the IPv4 header: linear at every hook (ip_rcv pulled it
 * on the way in, the stack built it on the way out), so read in place as
 * ip_tables and nf_tables do
 */
static bool netlens_parse4(const struct sk_buff *skb, struct netlens_pkt *p)
{
	const struct iphdr *iph = ip_hdr(skb);

	if (iph->ihl < 5)
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

/*
 * netlens_pkt_l4 - parse the L4 header on its first use; UDP and TCP
 * headers in the linear part are read in place, the rest through
 * netlens_parse_ports
 */
static __always_inline void netlens_pkt_l4(struct netlens_pkt *p)
{
	const struct sk_buff *skb = p->skb;

	if (!p->l4_todo)
		return;
	p->l4_todo = false;
	if ((p->proto == IPPROTO_UDP && skb_headlen(skb) >= p->thoff + 4) ||
	    (p->proto == IPPROTO_TCP && skb_headlen(skb) >= p->thoff + 14))
		netlens_ports_set(skb->data + p->thoff, p);
	else
		netlens_parse_ports(skb, p->thoff, p);
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

static __always_inline bool netlens_match(const struct netlens_rule *r,
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

/* what one pass over the chains is looking for */
struct netlens_scan {
	const struct sk_buff *skb;
	struct netlens_pkt *p;
	const struct nf_hook_state *state;
	u32 hookbit;
	bool counting;			/* pass 2: count COUNT rules before @best */
	const struct netlens_rule *best;
	unsigned int examined;		/* rules looked at, both passes */
};

/*
 * netlens_consider - rule @r of a chain whose key is the packet's (or of
 * the catch-all list); false when the walk of the chain stops here.  A rule
 * is only taken from the probe of its own key (@idx and @plen: hash
 * collisions put rules with other keys, or other prefix lengths, in the
 * same chain), so no COUNT rule counts a packet twice.
 */
static __always_inline bool netlens_consider(const struct netlens_rule *r,
					     int idx, u8 plen,
					     struct netlens_scan *s)
{
	if (s->best && !netlens_rule_before(r, s->best))
		return false;
	if ((r->action == NETLENS_ACTION_COUNT) != s->counting)
		return true;
	switch (idx) {
	case NETLENS_IDX_DST4:
	case NETLENS_IDX_DST6:
		if (r->m.dst_plen != plen)
			return true;
		break;
	case NETLENS_IDX_SRC4:
	case NETLENS_IDX_SRC6:
		if (r->m.src_plen != plen)
			return true;
		break;
	}
	if (!netlens_match(r, s->p, s->hookbit))
		return true;
	if (!s->counting) {
		s->best = r;
		return false;
	}
	netlens_count(r, s->skb);
	if (r->log) {
		netlens_pkt_l4(s->p);
		netlens_log_packet(r, s->skb, s->p, s->state, NETLENS_ACTION_COUNT);
	}
	return true;
}

/* netlens_consider_keyed - netlens_consider out of line, for the hash chains */
static noinline bool netlens_consider_keyed(const struct netlens_rule *r,
					    int idx, u8 plen,
					    struct netlens_scan *s)
{
	return netlens_consider(r, idx, plen, s);
}

/*
 * netlens_probe - the chain of key @hkey in table @t.  Most chains are
 * empty or hold rules of other keys, which cost one comparison each.
 */
static __always_inline void netlens_probe(struct netlens_htab *t,
					  u64 hkey, int idx, u8 plen,
					  struct netlens_scan *s)
{
	const struct hlist_node *n;
	int which;

	/* NULL only before the namespace's first rule (never when a key is in use) */
	if (unlikely(!t))
		return;
	which = t->node;
	for (n = rcu_dereference(hlist_first_rcu(netlens_hbucket(t, hkey))); n;
	     n = rcu_dereference(hlist_next_rcu(n))) {
		const struct netlens_rule *r = netlens_node_rule(n, which);

		s->examined++;
		if (r->hkey == hkey && !netlens_consider_keyed(r, idx, plen, s))
			return;
	}
}

/* netlens_probe4 - the IPv4 prefix index @idx: one probe per prefix length in use */
static __always_inline void netlens_probe4(struct netlens_net *nn, int idx,
					   __be32 addr, struct netlens_scan *s)
{
	struct netlens_htab *t = rcu_dereference(nn->htab[idx]);
	int w;

	for (w = 0; w < BITS_TO_LONGS(33); w++) {
		unsigned long bits = READ_ONCE(nn->plen_map[idx][w]);

		if (!w)
			bits &= ~1UL;		/* length 0 is never a key */
		while (bits) {
			unsigned int plen = w * BITS_PER_LONG + __ffs(bits);
			__be32 masked = addr & inet_make_mask(plen);

			bits &= bits - 1;
			netlens_probe(t, netlens_hkey4(masked, plen), idx, plen, s);
		}
	}
}

/* netlens_probe6 - the IPv6 prefix index @idx, as netlens_probe4 */
static noinline void netlens_probe6(struct netlens_net *nn, int idx,
				    const struct in6_addr *addr,
				    struct netlens_scan *s)
{
	struct netlens_htab *t = rcu_dereference(nn->htab[idx]);
	struct in6_addr masked;
	int w;

	for (w = 0; w < BITS_TO_LONGS(129); w++) {
		unsigned long bits = READ_ONCE(nn->plen_map[idx][w]);

		if (!w)
			bits &= ~1UL;
		while (bits) {
			unsigned int plen = w * BITS_PER_LONG + __ffs(bits);

			bits &= bits - 1;
			ipv6_addr_prefix(&masked, addr, plen);
			netlens_probe(t, netlens_hkey6(&masked, plen), idx, plen, s);
		}
	}
}

/* netlens_scan - one pass over every chain the packet can match in. */
static noinline void netlens_scan(struct netlens_net *nn, struct netlens_scan *s)
{
	struct netlens_pkt *p = s->p;
	const struct hlist_node *n;

	if (p->family == NETLENS_FAMILY_IPV4)
		netlens_probe4(nn, NETLENS_IDX_DST4, p->dst.ip, s);
	else
		netlens_probe6(nn, NETLENS_IDX_DST6, &p->dst.in6, s);
	if (READ_ONCE(nn->ndport)) {
		netlens_pkt_l4(p);	/* the port index needs the ports */
		if (p->has_ports)
			netlens_probe(rcu_dereference(nn->htab[NETLENS_IDX_DPORT]),
				      netlens_hkey_port(p->dport),
				      NETLENS_IDX_DPORT, 0, s);
	}
	if (p->family == NETLENS_FAMILY_IPV4)
		netlens_probe4(nn, NETLENS_IDX_SRC4, p->src.ip, s);
	else
		netlens_probe6(nn, NETLENS_IDX_SRC6, &p->src.in6, s);
	for (n = rcu_dereference(hlist_first_rcu(&nn->misc)); n;
	     n = rcu_dereference(hlist_next_rcu(n))) {
		s->examined++;
		if (!netlens_consider(netlens_node_rule(n, 0), NETLENS_IDX_MISC, 0, s))
			break;
	}
}

static __always_inline const struct netlens_rule *
netlens_lookup(struct netlens_net *nn, const struct sk_buff *skb,
	       struct netlens_pkt *p, const struct nf_hook_state *state,
	       unsigned int *examined)
{
	struct netlens_scan s = {
		.skb = skb,
		.p = p,
		.state = state,
		.hookbit = BIT(state->hook),
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
