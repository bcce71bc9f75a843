// SPDX-License-Identifier: GPL-2.0
/*
 * netlens_proc.c - /proc/net/netlens: the rules of the reader's namespace
 * with their counters, one line each, in id order.  The seq_file position
 * is the next rule id to show (0 = header), so a reader that stops between
 * reads resumes correctly even when rules come and go.  Holds the
 * namespace lock from start to stop.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>
#include "netlens.h"

static struct netlens_net *netlens_seq_nn(struct seq_file *seq)
{
	return netlens_pernet(seq_file_net(seq));
}

static void *netlens_seq_find(struct netlens_net *nn, loff_t pos)
{
	unsigned long id = pos;

	if (pos > U32_MAX)
		return NULL;
	return xa_find(&nn->rules, &id, U32_MAX, XA_PRESENT);
}

/*
 * No __acquires/__releases here: sparse tracks spinlock contexts, not
 * mutexes, and a mutex taken in start and released in stop is the seq_file
 * pattern (as in net/netfilter/nf_tables_api.c's nf_tables_*_start).
 */
static void *netlens_seq_start(struct seq_file *seq, loff_t *pos)
{
	struct netlens_net *nn = netlens_seq_nn(seq);

	mutex_lock(&nn->lock);
	if (*pos == 0)
		return SEQ_START_TOKEN;
	return netlens_seq_find(nn, *pos);
}

static void *netlens_seq_next(struct seq_file *seq, void *v, loff_t *pos)
{
	struct netlens_net *nn = netlens_seq_nn(seq);
	struct netlens_rule *r = v;

	*pos = v == SEQ_START_TOKEN ? 1 : (loff_t)r->id + 1;
	return netlens_seq_find(nn, *pos);
}

static void netlens_seq_stop(struct seq_file *seq, void *v)
{
	mutex_unlock(&netlens_seq_nn(seq)->lock);
}

static const char *const netlens_action_names[] = {
	[NETLENS_ACTION_UNSPEC] = "?",
	[NETLENS_ACTION_ACCEPT] = "accept",
	[NETLENS_ACTION_DROP] = "drop",
	[NETLENS_ACTION_COUNT] = "count",
	[NETLENS_ACTION_REJECT] = "reject",
};

static const char *const netlens_family_names[] = {
	[NETLENS_FAMILY_UNSPEC] = "?",
	[NETLENS_FAMILY_IPV4] = "ipv4",
	[NETLENS_FAMILY_IPV6] = "ipv6",
	[NETLENS_FAMILY_BOTH] = "both",
};

/* a negated match shows with a leading "!" */
static void netlens_seq_addr(struct seq_file *seq, u8 fam,
			     const union nf_inet_addr *a, u8 plen, bool neg)
{
	const char *bang = neg ? "!" : "";

	if (!plen)
		seq_puts(seq, " *");
	else if (fam == NETLENS_FAMILY_IPV4)
		seq_printf(seq, " %s%pI4/%u", bang, &a->ip, plen);
	else
		seq_printf(seq, " %s%pI6c/%u", bang, &a->in6, plen);
}

static void netlens_seq_ports(struct seq_file *seq, u16 min, u16 max, bool neg)
{
	const char *bang = neg ? "!" : "";

	if (min == 0 && max == 0xffff)
		seq_puts(seq, " *");
	else if (min == max)
		seq_printf(seq, " %s%u", bang, min);
	else
		seq_printf(seq, " %s%u-%u", bang, min, max);
}

/* a set shows as "set:N", N its elements (GET_SET lists them) */
static bool netlens_seq_set(struct seq_file *seq, const struct netlens_set *s,
			    bool neg)
{
	if (!s)
		return false;
	seq_printf(seq, " %sset:%u", neg ? "!" : "", s->n);
	return true;
}

static int netlens_seq_show(struct seq_file *seq, void *v)
{
	const struct netlens_rule *r = v;
	const struct netlens_match *m;
	struct netlens_rule_counts st;

	if (v == SEQ_START_TOKEN) {
		seq_puts(seq, "id enabled action priority hooks family proto src sport dst dport iif oif packets bytes last_hit_ns label\n");
		return 0;
	}
	m = &r->m;
	netlens_rule_read_stats(r, &st);
	seq_printf(seq, "%u %u %s %u 0x%02x %s %u", r->id, r->enabled,
		   netlens_action_names[r->action], r->priority, m->hooks,
		   netlens_family_names[m->family & 3], m->proto);
	if (!netlens_seq_set(seq, m->set[NETLENS_SET_SRC], m->neg & NETLENS_NEG_SRC))
		netlens_seq_addr(seq, m->family, &m->src, m->src_plen,
				 m->neg & NETLENS_NEG_SRC);
	if (!netlens_seq_set(seq, m->set[NETLENS_SET_SPORT], m->neg & NETLENS_NEG_SPORT))
		netlens_seq_ports(seq, m->sport_min, m->sport_max,
				  m->neg & NETLENS_NEG_SPORT);
	if (!netlens_seq_set(seq, m->set[NETLENS_SET_DST], m->neg & NETLENS_NEG_DST))
		netlens_seq_addr(seq, m->family, &m->dst, m->dst_plen,
				 m->neg & NETLENS_NEG_DST);
	if (!netlens_seq_set(seq, m->set[NETLENS_SET_DPORT], m->neg & NETLENS_NEG_DPORT))
		netlens_seq_ports(seq, m->dport_min, m->dport_max,
				  m->neg & NETLENS_NEG_DPORT);
	seq_printf(seq, " %s%s %s%s %llu %llu %llu %s\n",
		   m->neg & NETLENS_NEG_IIF ? "!" : "",
		   m->iifname[0] ? m->iifname : "*",
		   m->neg & NETLENS_NEG_OIF ? "!" : "",
		   m->oifname[0] ? m->oifname : "*",
		   st.packets, st.bytes, st.last_hit_ns,
		   r->label[0] ? r->label : "-");
	return 0;
}

static const struct seq_operations netlens_seq_ops = {
	.start = netlens_seq_start,
	.next  = netlens_seq_next,
	.stop  = netlens_seq_stop,
	.show  = netlens_seq_show,
};

int netlens_proc_init(struct net *net)
{
	if (!proc_create_net("netlens", 0444, net->proc_net, &netlens_seq_ops,
			     sizeof(struct seq_net_private)))
		return -ENOMEM;
	return 0;
}

void netlens_proc_exit(struct net *net)
{
	remove_proc_entry("netlens", net->proc_net);
}
