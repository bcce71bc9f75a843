// SPDX-License-Identifier: GPL-2.0
/*
 * netlens_rules.c - the rule table: id allocation, the lookup indexes (see
 * netlens.h for the algorithm), RCU publication and commit-confirmed
 * transactions.  Every function here runs with netlens_net.lock held unless
 * it says otherwise.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/percpu.h>
#include <linux/jhash.h>
#include <linux/hash.h>
#include <linux/jiffies.h>
#include <net/netfilter/nf_conntrack.h>
#include "netlens.h"

/*
 * netlens_ct_hold - a published rule matches on conntrack state: the first
 * one turns conntrack on in the namespace (nf_ct_netns_get, as xt_conntrack
 * does), so that packets carry a state.
 */
static int netlens_ct_hold(struct netlens_net *nn, struct netlens_rule *r)
{
	int err;

	r->ct_held = 0;		/* a copy may carry its original's flag */
	if (!r->m.ct_state)
		return 0;
	if (nn->ct_rules == 0) {
		err = nf_ct_netns_get(nn->net, NFPROTO_INET);
		if (err)
			return err;
	}
	nn->ct_rules++;
	r->ct_held = 1;
	return 0;
}

/* netlens_ct_release - the copy @r is unpublished; balances netlens_ct_hold */
static void netlens_ct_release(struct netlens_net *nn, struct netlens_rule *r)
{
	if (!r->ct_held)
		return;
	r->ct_held = 0;
	if (--nn->ct_rules == 0)
		nf_ct_netns_put(nn->net, NFPROTO_INET);
}

/* netlens_rule_before - true when @a is evaluated before @b. */
bool netlens_rule_before(const struct netlens_rule *a,
			 const struct netlens_rule *b)
{
	if (a->priority != b->priority)
		return a->priority < b->priority;
	return a->id < b->id;
}

static int netlens_rule_index(const struct netlens_rule *r)
{
	const struct netlens_match *m = &r->m;

	if (!r->enabled)
		return NETLENS_IDX_NONE;
	/* a negated match selects nothing: it cannot be an index key */
	if (m->dst_plen && !(m->neg & NETLENS_NEG_DST))
		return m->family == NETLENS_FAMILY_IPV4 ? NETLENS_IDX_DST4 :
							  NETLENS_IDX_DST6;
	if (m->dport_min == m->dport_max && !(m->neg & NETLENS_NEG_DPORT))
		return NETLENS_IDX_DPORT;
	if (m->src_plen && !(m->neg & NETLENS_NEG_SRC))
		return m->family == NETLENS_FAMILY_IPV4 ? NETLENS_IDX_SRC4 :
							  NETLENS_IDX_SRC6;
	return NETLENS_IDX_MISC;
}

static u8 netlens_index_plen(const struct netlens_rule *r, int idx)
{
	switch (idx) {
	case NETLENS_IDX_DST4:
	case NETLENS_IDX_DST6:
		return r->m.dst_plen;
	case NETLENS_IDX_SRC4:
	case NETLENS_IDX_SRC6:
		return r->m.src_plen;
	default:
		return 0;
	}
}

static struct netlens_htab *netlens_htab_locked(struct netlens_net *nn, int idx)
{
	return rcu_dereference_protected(nn->htab[idx], lockdep_is_held(&nn->lock));
}

static struct netlens_htab *netlens_htab_alloc(u8 bits, u8 node)
{
	struct netlens_htab *t;

	t = kvzalloc(struct_size(t, b, 1UL << bits),
		     GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!t)
		return NULL;
	t->bits = bits;
	t->node = node;
	t->gp = get_state_synchronize_rcu();
	return t;
}

/* netlens_tabs_ensure - allocate the index hash tables if not done yet. */
int netlens_tabs_ensure(struct netlens_net *nn)
{
	struct netlens_htab *t;
	int idx;

	for (idx = 0; idx < NETLENS_IDX_HASHED; idx++) {
		if (netlens_htab_locked(nn, idx))
			continue;
		t = netlens_htab_alloc(NETLENS_HTAB_MIN_BITS, 0);
		if (!t)
			return -ENOMEM;
		rcu_assign_pointer(nn->htab[idx], t);
	}
	return 0;
}

/* netlens_rule_hkey - the hash of @r's key in hashed index @idx */
static u64 netlens_rule_hkey(const struct netlens_rule *r, int idx)
{
	switch (idx) {
	case NETLENS_IDX_DST4:
		return netlens_hkey4(r->m.dst.ip, r->m.dst_plen);
	case NETLENS_IDX_DST6:
		return netlens_hkey6(&r->m.dst.in6, r->m.dst_plen);
	case NETLENS_IDX_SRC4:
		return netlens_hkey4(r->m.src.ip, r->m.src_plen);
	case NETLENS_IDX_SRC6:
		return netlens_hkey6(&r->m.src.in6, r->m.src_plen);
	default:
		return netlens_hkey_port(r->m.dport_min);
	}
}

/*
 * netlens_rule_head - the chain @r belongs in for index @idx, and in
 * @which the node of @r that links it there
 */
static struct hlist_head *netlens_rule_head(struct netlens_net *nn,
					    const struct netlens_rule *r,
					    int idx, int *which)
{
	struct netlens_htab *t;

	if (idx >= NETLENS_IDX_HASHED) {
		*which = 0;
		return &nn->misc;
	}
	t = netlens_htab_locked(nn, idx);
	*which = t->node;
	return netlens_hbucket(t, netlens_rule_hkey(r, idx));
}

/* netlens_chain_add - link @r into @head through node[@which], in (priority, id) order */
static void netlens_chain_add(struct hlist_head *head, struct netlens_rule *r,
			      int which, struct netlens_rule *prev)
{
	struct hlist_node *n;

	if (!prev) {
		for (n = head->first; n; n = n->next) {
			struct netlens_rule *pos = netlens_node_rule(n, which);

			if (netlens_rule_before(r, pos)) {
				hlist_add_before_rcu(&r->node[which], n);
				return;
			}
			prev = pos;
		}
	}
	if (prev)
		hlist_add_behind_rcu(&r->node[which], &prev->node[which]);
	else
		hlist_add_head_rcu(&r->node[which], head);
}

/*
 * netlens_htab_grow - double the table of index @idx (see struct
 * netlens_htab).  Best effort: without memory the table stays as it is.
 * Sleeps only when the previous doubling was less than a grace period ago.
 */
static void netlens_htab_grow(struct netlens_net *nn, int idx)
{
	struct netlens_htab *old = netlens_htab_locked(nn, idx), *t;
	struct hlist_node *n;
	u32 i;

	if (old->bits >= NETLENS_HTAB_MAX_BITS)
		return;
	t = netlens_htab_alloc(old->bits + 1, !old->node);
	if (!t)
		return;
	/* no packet still walks a table that used these nodes */
	cond_synchronize_rcu(old->gp);
	for (i = 0; i < (1U << old->bits); i++) {
		for (n = old->b[i].first; n; n = n->next) {
			struct netlens_rule *r = netlens_node_rule(n, old->node);

			/* in (priority, id) order, as in every chain */
			netlens_chain_add(netlens_hbucket(t, r->hkey), r, t->node, NULL);
		}
		if (!(i & 1023))
			cond_resched();
	}
	t->gp = get_state_synchronize_rcu();
	rcu_assign_pointer(nn->htab[idx], t);
	kvfree_rcu(old, rcu);
}

static void netlens_count_hooks(struct netlens_net *nn,
				const struct netlens_rule *r, int delta)
{
	int f, h;

	for (f = 0; f < 2; f++) {
		if (!(r->m.family & (f ? NETLENS_FAMILY_IPV6 : NETLENS_FAMILY_IPV4)))
			continue;
		for (h = 0; h < NETLENS_NHOOKS; h++)
			if (r->m.hooks & BIT(h))
				WRITE_ONCE(nn->hook_rules[f][h],
					   nn->hook_rules[f][h] + delta);
	}
}

/* netlens_account - the bookkeeping of @r entering (+1) or leaving (-1) index @idx. */
static void netlens_account(struct netlens_net *nn,
			    const struct netlens_rule *r, int idx, int delta)
{
	u8 plen = netlens_index_plen(r, idx);

	if (idx < NETLENS_IDX_HASHED)
		nn->idx_n[idx] += delta;
	if (plen) {
		if (delta > 0 && nn->plen_cnt[idx][plen]++ == 0)
			set_bit(plen, nn->plen_map[idx]);
		if (delta < 0 && --nn->plen_cnt[idx][plen] == 0)
			clear_bit(plen, nn->plen_map[idx]);
	}
	if (r->action == NETLENS_ACTION_COUNT)
		WRITE_ONCE(nn->ncount, nn->ncount + delta);
	if (idx == NETLENS_IDX_DPORT)
		WRITE_ONCE(nn->ndport, nn->ndport + delta);
	netlens_count_hooks(nn, r, delta);
	WRITE_ONCE(nn->nindexed, nn->nindexed + delta);
}

/* the rule before @r in the catch-all list, or NULL when @r is first */
static struct netlens_rule *netlens_misc_prev(struct netlens_net *nn,
					      struct netlens_rule *r)
{
	if (r->node[0].pprev == &nn->misc.first)
		return NULL;
	return container_of(r->node[0].pprev, struct netlens_rule, node[0].next);
}

/*
 * netlens_link - publish @r in its index, keeping the chain in (priority,
 * id) order.  New rules get the highest id, so on the catch-all list (which
 * can be long) a rule whose priority is not lower than the last one's is
 * appended in O(1) behind @misc_tail; the hashed chains are short (their
 * table doubles past half full).
 */
static void netlens_link(struct netlens_net *nn, struct netlens_rule *r)
{
	int idx = netlens_rule_index(r), which;
	struct netlens_rule *prev = NULL;
	struct hlist_head *head;

	r->index = idx;
	if (idx == NETLENS_IDX_NONE)
		return;
	r->m.needs_l4 = netlens_match_needs_l4(&r->m);
	if (idx < NETLENS_IDX_HASHED)
		r->hkey = netlens_rule_hkey(r, idx);
	head = netlens_rule_head(nn, r, idx, &which);
	if (idx == NETLENS_IDX_MISC && nn->misc_tail &&
	    !netlens_rule_before(r, nn->misc_tail))
		prev = nn->misc_tail;
	netlens_chain_add(head, r, which, prev);
	if (idx == NETLENS_IDX_MISC && (!nn->misc_tail || prev))
		nn->misc_tail = r;
	/* counted after linking: a hook that starts looking finds the rule */
	netlens_account(nn, r, idx, 1);
	if (idx < NETLENS_IDX_HASHED &&
	    nn->idx_n[idx] > (1U << netlens_htab_locked(nn, idx)->bits) / 2)
		netlens_htab_grow(nn, idx);
}

static void netlens_unlink(struct netlens_net *nn, struct netlens_rule *r)
{
	int idx = r->index, which = 0;

	if (idx == NETLENS_IDX_NONE)
		return;
	netlens_account(nn, r, idx, -1);
	if (r == nn->misc_tail)
		nn->misc_tail = netlens_misc_prev(nn, r);
	if (idx < NETLENS_IDX_HASHED)
		which = netlens_htab_locked(nn, idx)->node;
	hlist_del_rcu(&r->node[which]);
	r->index = NETLENS_IDX_NONE;
}

/*
 * netlens_same_place - true when @nr would sit exactly where @old sits:
 * same chain, same (priority, id), same prefix length.
 */
static bool netlens_same_place(struct netlens_net *nn,
			       const struct netlens_rule *old,
			       const struct netlens_rule *nr)
{
	int idx = netlens_rule_index(nr), w;

	return old->index != NETLENS_IDX_NONE && idx == old->index &&
	       nr->priority == old->priority &&
	       netlens_index_plen(nr, idx) == netlens_index_plen(old, idx) &&
	       netlens_rule_head(nn, nr, idx, &w) == netlens_rule_head(nn, old, idx, &w);
}

/* netlens_rule_alloc - a zeroed rule with its own per-CPU counters; any context that may sleep. */
struct netlens_rule *netlens_rule_alloc(void)
{
	struct netlens_rule *r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	int cpu;

	if (!r)
		return NULL;
	r->stats = alloc_percpu_gfp(struct netlens_rule_stats,
				    GFP_KERNEL_ACCOUNT);
	if (!r->stats) {
		kfree(r);
		return NULL;
	}
	r->logst = kzalloc(sizeof(*r->logst), GFP_KERNEL_ACCOUNT);
	if (!r->logst) {
		free_percpu(r->stats);
		kfree(r);
		return NULL;
	}
	for_each_possible_cpu(cpu)
		u64_stats_init(&per_cpu_ptr(r->stats, cpu)->syncp);
	r->owns_stats = 1;
	r->index = NETLENS_IDX_NONE;
	return r;
}

/*
 * netlens_rule_copy - a copy of @r that does not own its counters, with its
 * own references to the sets; free it with netlens_rule_free() (which then
 * leaves the counters alone) or publish it with netlens_rule_replace().
 */
struct netlens_rule *netlens_rule_copy(const struct netlens_rule *r)
{
	struct netlens_rule *c = kmemdup(r, sizeof(*r), GFP_KERNEL_ACCOUNT);

	if (!c)
		return NULL;
	c->owns_stats = 0;
	c->index = NETLENS_IDX_NONE;
	c->txn = NULL;
	netlens_sets_get(&c->m);
	return c;
}

/* netlens_rule_free - free a rule that was never published (or is no more). */
void netlens_rule_free(struct netlens_rule *r)
{
	if (!r)
		return;
	if (r->owns_stats) {
		free_percpu(r->stats);
		kfree(r->logst);
	}
	netlens_sets_put(&r->m);
	kfree(r);
}

static void netlens_rule_free_rcu(struct rcu_head *head)
{
	netlens_rule_free(container_of(head, struct netlens_rule, rcu));
}

void netlens_rule_read_stats(const struct netlens_rule *r,
			     struct netlens_rule_counts *sum)
{
	int cpu;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		const struct netlens_rule_stats *s = per_cpu_ptr(r->stats, cpu);
		u64 packets, bytes, last;
		unsigned int start;

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			packets = u64_stats_read(&s->packets);
			bytes = u64_stats_read(&s->bytes);
			last = u64_stats_read(&s->last_hit_ns);
		} while (u64_stats_fetch_retry(&s->syncp, start));
		sum->packets += packets;
		sum->bytes += bytes;
		if (last > sum->last_hit_ns)
			sum->last_hit_ns = last;
	}
}

/* netlens_rule_insert - give @r an id and publish it; -ENOSPC when the id space is full. */
int netlens_rule_insert(struct netlens_net *nn, struct netlens_rule *r)
{
	int err;

	err = netlens_ct_hold(nn, r);
	if (err)
		return err;
	err = xa_alloc_cyclic(&nn->rules, &r->id, r, XA_LIMIT(1, U32_MAX),
			      &nn->next_id, GFP_KERNEL_ACCOUNT);
	if (err < 0) {
		netlens_ct_release(nn, r);
		return err == -EBUSY ? -ENOSPC : err;
	}
	netlens_link(nn, r);
	nn->nrules++;
	nn->gen++;
	return 0;
}

/* netlens_txn_drop - forget the pending transaction of @r, if any. */
void netlens_txn_drop(struct netlens_rule *r)
{
	if (!r->txn)
		return;
	list_del(&r->txn->node);
	netlens_txn_free(r->txn);
	r->txn = NULL;
}

/*
 * netlens_rule_remove - unpublish @r, drop its pending transaction, free it
 * after a grace period.  The caller calls netlens_hooks_sync() when done.
 */
void netlens_rule_remove(struct netlens_net *nn, struct netlens_rule *r)
{
	xa_erase(&nn->rules, r->id);
	netlens_unlink(nn, r);
	netlens_ct_release(nn, r);
	netlens_txn_drop(r);
	nn->nrules--;
	nn->gen++;
	r->owns_stats = 1;
	call_rcu(&r->rcu, netlens_rule_free_rcu);
}

/*
 * netlens_rule_replace - publish @nr in place of @old (same id); @nr takes
 * over the counters.  A packet sees exactly one copy:
 *  - same place in the same chain: one pointer store (hlist_replace_rcu);
 *  - else, when neither copy is a COUNT rule: @nr is linked before @old is
 *    unlinked, so a packet never sees neither; if it sees both, the verdict
 *    pass takes only one of them;
 *  - else (a COUNT copy moves between chains): @old is unlinked and a grace
 *    period passes before @nr is linked, so that no packet's counting pass
 *    sees both copies and counts it twice.  A packet in between is not
 *    counted by this rule.  Sleeps.
 */
void netlens_rule_replace(struct netlens_net *nn, struct netlens_rule *old,
			  struct netlens_rule *nr)
{
	if (nr->owns_stats && nr->stats != old->stats) {
		free_percpu(nr->stats);
		kfree(nr->logst);
	}
	nr->id = old->id;
	nr->stats = old->stats;
	nr->logst = old->logst;
	nr->owns_stats = 1;
	old->owns_stats = 0;
	nr->index = NETLENS_IDX_NONE;
	nr->m.needs_l4 = netlens_match_needs_l4(&nr->m);
	xa_store(&nn->rules, nr->id, nr, GFP_KERNEL_ACCOUNT);
	/* without conntrack a ct match sees every packet as untracked */
	if (netlens_ct_hold(nn, nr))
		pr_warn_ratelimited("rule %u: cannot turn conntrack on\n", nr->id);
	netlens_ct_release(nn, old);
	if (netlens_same_place(nn, old, nr)) {
		int idx = old->index, which;

		if (idx < NETLENS_IDX_HASHED)
			nr->hkey = netlens_rule_hkey(nr, idx);
		netlens_rule_head(nn, nr, idx, &which);
		netlens_account(nn, nr, idx, 1);
		hlist_replace_rcu(&old->node[which], &nr->node[which]);
		netlens_account(nn, old, idx, -1);
		nr->index = idx;
		old->index = NETLENS_IDX_NONE;
		if (nn->misc_tail == old)
			nn->misc_tail = nr;
	} else if ((old->index != NETLENS_IDX_NONE &&
		    old->action == NETLENS_ACTION_COUNT) ||
		   (nr->enabled && nr->action == NETLENS_ACTION_COUNT)) {
		netlens_unlink(nn, old);
		synchronize_rcu();
		netlens_link(nn, nr);
	} else {
		netlens_link(nn, nr);
		netlens_unlink(nn, old);
	}
	nn->gen++;
	call_rcu(&old->rcu, netlens_rule_free_rcu);
}

/* netlens_rules_flush - remove every rule and every pending transaction. */
void netlens_rules_flush(struct netlens_net *nn)
{
	struct netlens_rule *r;
	unsigned long id;

	xa_for_each(&nn->rules, id, r) {
		netlens_rule_remove(nn, r);
		cond_resched();
	}
	netlens_txn_arm(nn);
	netlens_hooks_sync(nn);
}

void netlens_txn_free(struct netlens_txn *t)
{
	if (t->prev)
		netlens_rule_free(t->prev);
	kfree(t);
}

/* netlens_txn_arm - (re)schedule the revert work for the earliest deadline. */
void netlens_txn_arm(struct netlens_net *nn)
{
	struct netlens_txn *t;
	unsigned long first = 0, now = jiffies;
	bool any = false;

	list_for_each_entry(t, &nn->txns, node) {
		if (!any || time_before(t->deadline, first))
			first = t->deadline;
		any = true;
	}
	if (!any) {
		cancel_delayed_work(&nn->revert_work);
		return;
	}
	mod_delayed_work(system_wq, &nn->revert_work,
			 time_after(first, now) ? first - now : 0);
}

static void netlens_txn_revert(struct netlens_net *nn, struct netlens_txn *t)
{
	struct netlens_rule *r = xa_load(&nn->rules, t->rule_id);
	struct netlens_rule *nr;

	list_del(&t->node);
	if (t->policy) {
		WRITE_ONCE(nn->policy[t->fam][t->hook], t->prev_verdict);
		netlens_notify_policy(nn, t->fam, t->hook, t->id);
		netlens_txn_free(t);
		return;
	}
	if (r)
		r->txn = NULL;
	if (r && !t->prev) {
		/* a create: the rule goes away */
		netlens_notify(nn, NETLENS_EVENT_REVERTED, r, t->id);
		netlens_rule_remove(nn, r);
	} else if (r) {
		/* a change: the previous copy comes back */
		nr = t->prev;
		t->prev = NULL;
		nr->txn = NULL;
		netlens_rule_replace(nn, r, nr);
		netlens_notify(nn, NETLENS_EVENT_REVERTED, nr, t->id);
	}
	pr_debug("reverted transaction %u on rule %u\n", t->id, t->rule_id);
	netlens_txn_free(t);
}

/* netlens_revert_work - undo every transaction whose deadline passed; takes the lock. */
void netlens_revert_work(struct work_struct *work)
{
	struct netlens_net *nn = container_of(to_delayed_work(work),
					      struct netlens_net, revert_work);
	struct netlens_txn *t, *tmp;

	mutex_lock(&nn->lock);
	list_for_each_entry_safe(t, tmp, &nn->txns, node)
		if (!time_before(jiffies, t->deadline))
			netlens_txn_revert(nn, t);
	netlens_txn_arm(nn);
	netlens_hooks_sync(nn);
	mutex_unlock(&nn->lock);
}

/* netlens_rules_init - set up the empty table of a namespace; no lock needed. */
void netlens_rules_init(struct netlens_net *nn)
{
	mutex_init(&nn->lock);
	xa_init_flags(&nn->rules, XA_FLAGS_ALLOC1);
	INIT_HLIST_HEAD(&nn->misc);
	INIT_LIST_HEAD(&nn->txns);
	INIT_DELAYED_WORK(&nn->revert_work, netlens_revert_work);
}

/*
 * netlens_rules_exit - free everything; the hooks must be unregistered and
 * the revert work cancelled.  Takes the lock.
 */
void netlens_rules_exit(struct netlens_net *nn)
{
	struct netlens_txn *t, *tmp;
	int idx;

	mutex_lock(&nn->lock);
	netlens_rules_flush(nn);
	mutex_unlock(&nn->lock);
	cancel_delayed_work_sync(&nn->revert_work);
	/* what the flush left: pending default policy changes */
	list_for_each_entry_safe(t, tmp, &nn->txns, node) {
		list_del(&t->node);
		netlens_txn_free(t);
	}
	xa_destroy(&nn->rules);
	/* no packet can see the tables: unhooked in pre_exit, a grace period ago */
	for (idx = 0; idx < NETLENS_IDX_HASHED; idx++)
		kvfree(rcu_dereference_protected(nn->htab[idx], true));
}
