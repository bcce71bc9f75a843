// SPDX-License-Identifier: GPL-2.0
/*
 * netlens_set.c - the sets a rule matches an address or a port against (see
 * struct netlens_set in netlens.h): building one from a request, the O(1)
 * lookup of the packet path, and listing the elements for GET_SET.
 *
 * A set belongs to its rule: it is sent with the rule (CREATE, CHANGE) and
 * goes with it, so it is published and freed with the rule under the rule's
 * RCU rules, and a rule change is atomic with its set.  Named sets shared by
 * several rules (as nft's) were not chosen: they need their own commands,
 * lifetime and references from rules, and a set update would change rules
 * behind the commit-confirmed transactions that protect every rule change.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/jhash.h>
#include <linux/log2.h>
#include <linux/atomic.h>
#include <net/ipv6.h>
#include "netlens.h"

/*
 * Every set of every namespace together holds at most this many bytes
 * (the elements are also charged to the caller's memory cgroup).  Only the
 * host's admin can make rules (see the privilege model), so one module-wide
 * bound is enough: 256 MiB is 64 sets of 65,536 IPv6 prefixes.
 */
#define NETLENS_SETS_BYTES_MAX	(256UL << 20)
static atomic_long_t netlens_sets_bytes = ATOMIC_LONG_INIT(0);

static u32 netlens_set_hash(const struct netlens_set *s,
			    const union nf_inet_addr *a, u8 plen)
{
	if (s->family == NETLENS_FAMILY_IPV4)
		return jhash_1word((__force u32)a->ip, plen) & s->mask;
	return jhash2((const u32 *)a->all, 4, plen) & s->mask;
}

static bool netlens_slot_eq(const struct netlens_set *s,
			    const struct netlens_set_slot *sl,
			    const union nf_inet_addr *a, u8 plen)
{
	if (sl->plen != plen)
		return false;
	if (s->family == NETLENS_FAMILY_IPV4)
		return sl->addr.ip == a->ip;
	return ipv6_addr_equal(&sl->addr.in6, &a->in6);
}

/* netlens_set_find - the slot of (@a, @plen), or the empty slot it would go in */
static struct netlens_set_slot *netlens_set_find(const struct netlens_set *s,
						 const union nf_inet_addr *a,
						 u8 plen)
{
	u32 i = netlens_set_hash(s, a, plen);

	/* the table is at most half full: an empty slot ends every probe */
	for (;; i = (i + 1) & s->mask) {
		const struct netlens_set_slot *sl = &s->slots[i];

		if (!sl->plen || netlens_slot_eq(s, sl, a, plen))
			return (struct netlens_set_slot *)sl;
	}
}

/*
 * netlens_set_has_addr - is @a in one of the prefixes of @s; any context,
 * under RCU on the packet path.  One probe per prefix length in use.
 */
bool netlens_set_has_addr(const struct netlens_set *s,
			  const union nf_inet_addr *a)
{
	union nf_inet_addr masked;
	int i;

	if (s->family == NETLENS_FAMILY_IPV4) {
		masked.ip = a->ip;
		for (i = 0; i < s->nplens; i++) {
			u8 plen = s->plen[i];

			if (plen < 32)
				masked.ip = a->ip & inet_make_mask(plen);
			if (netlens_set_find(s, &masked, plen)->plen)
				return true;
		}
		return false;
	}
	for (i = 0; i < s->nplens; i++) {
		u8 plen = s->plen[i];

		ipv6_addr_prefix(&masked.in6, &a->in6, plen);
		if (netlens_set_find(s, &masked, plen)->plen)
			return true;
	}
	return false;
}

static struct netlens_set *netlens_set_alloc(size_t bytes,
					     struct netlink_ext_ack *extack)
{
	struct netlens_set *s;

	if (atomic_long_add_return(bytes, &netlens_sets_bytes) > NETLENS_SETS_BYTES_MAX) {
		atomic_long_sub(bytes, &netlens_sets_bytes);
		NL_SET_ERR_MSG_MOD(extack, "the sets of all rules hold 256 MiB already");
		return ERR_PTR(-ENOSPC);
	}
	s = kvzalloc(bytes, GFP_KERNEL_ACCOUNT);
	if (!s) {
		atomic_long_sub(bytes, &netlens_sets_bytes);
		return ERR_PTR(-ENOMEM);
	}
	refcount_set(&s->ref, 1);
	s->bytes = bytes;
	return s;
}

void netlens_set_get(struct netlens_set *s)
{
	if (s)
		refcount_inc(&s->ref);
}

/* netlens_set_put - drop a reference; the last one frees (no reader may see @s any more). */
void netlens_set_put(struct netlens_set *s)
{
	if (!s || !refcount_dec_and_test(&s->ref))
		return;
	atomic_long_sub(s->bytes, &netlens_sets_bytes);
	kvfree(s);
}

/* netlens_sets_get - a copy of a rule's match takes its own references */
void netlens_sets_get(struct netlens_match *m)
{
	int f;

	for (f = 0; f <= NETLENS_SET_FIELD_MAX; f++)
		netlens_set_get(m->set[f]);
}

void netlens_sets_put(struct netlens_match *m)
{
	int f;

	for (f = 0; f <= NETLENS_SET_FIELD_MAX; f++) {
		netlens_set_put(m->set[f]);
		m->set[f] = NULL;
	}
}

static int netlens_set_add_ports(struct netlens_set *s, const struct nlattr *nest,
				 struct netlink_ext_ack *extack)
{
	const struct nlattr *a;
	int rem;

	nla_for_each_nested(a, nest, rem) {
		u16 port;

		if (nla_type(a) != NETLENS_A_SET_PORT) {
			NL_SET_ERR_MSG_ATTR(extack, a, "a port set holds ports (SET_PORT) only");
			return -EINVAL;
		}
		port = nla_get_u16(a);
		if (!__test_and_set_bit(port, s->ports))
			s->n++;
	}
	return 0;
}

/* netlens_set_prefix - the address and prefix length of one SET_PREFIX */
static int netlens_set_prefix(const struct nlattr *a, union nf_inet_addr *addr,
			      u8 *plen, u8 *fam, struct netlink_ext_ack *extack)
{
	struct nlattr *tb[NETLENS_A_PFX_MAX + 1] = {};
	union nf_inet_addr mask;
	const struct nlattr *pa;
	int i, len;
	u8 f;

	if (nla_type(a) != NETLENS_A_SET_PREFIX) {
		NL_SET_ERR_MSG_ATTR(extack, a, "an address set holds prefixes (SET_PREFIX) only");
		return -EINVAL;
	}
	/* the family policy validated the nest; this only splits it */
	if (nla_parse_nested(tb, NETLENS_A_PFX_MAX, a, NULL, extack))
		return -EINVAL;
	pa = tb[NETLENS_A_PFX_ADDR];
	if (!pa) {
		NL_SET_ERR_MSG_ATTR(extack, a, "a set prefix needs an address (PFX_ADDR)");
		return -EINVAL;
	}
	len = nla_len(pa);
	if (len != 4 && len != 16) {
		NL_SET_ERR_MSG_ATTR(extack, pa, "address must be 4 (IPv4) or 16 (IPv6) bytes");
		return -EINVAL;
	}
	f = len == 4 ? NETLENS_FAMILY_IPV4 : NETLENS_FAMILY_IPV6;
	if (*fam && f != *fam) {
		NL_SET_ERR_MSG_ATTR(extack, pa, "a set holds IPv4 or IPv6 prefixes, not both");
		return -EINVAL;
	}
	*fam = f;
	memset(addr, 0, sizeof(*addr));
	memcpy(addr, nla_data(pa), len);
	*plen = tb[NETLENS_A_PFX_PLEN] ? nla_get_u8(tb[NETLENS_A_PFX_PLEN]) : len * 8;
	if (!*plen || *plen > len * 8) {
		NL_SET_ERR_MSG_ATTR(extack, tb[NETLENS_A_PFX_PLEN],
				    "set prefix length must be 1..32 (IPv4) or 1..128 (IPv6)");
		return -EINVAL;
	}
	memset(&mask, 0, sizeof(mask));
	for (i = 0; i < len / 4; i++) {
		int bits = clamp_t(int, *plen - 32 * i, 0, 32);

		mask.ip6[i] = bits ? htonl(~0U << (32 - bits)) : 0;
	}
	for (i = 0; i < 4; i++) {
		if (addr->all[i] & ~mask.all[i]) {
			NL_SET_ERR_MSG_ATTR(extack, pa,
					    "set element has bits set beyond its prefix length");
			return -EINVAL;
		}
	}
	return 0;
}

static int netlens_set_add_addrs(struct netlens_set *s, const struct nlattr *nest,
				 struct netlink_ext_ack *extack)
{
	union nf_inet_addr addr;
	struct netlens_set_slot *sl;
	const struct nlattr *a;
	u8 plen, fam = s->family;
	int rem, err;

	nla_for_each_nested(a, nest, rem) {
		err = netlens_set_prefix(a, &addr, &plen, &fam, extack);
		if (err)
			return err;
		s->family = fam;
		sl = netlens_set_find(s, &addr, plen);
		if (sl->plen)
			continue;	/* a duplicate */
		sl->addr = addr;
		sl->plen = plen;
		__set_bit(plen, s->plens);
		s->n++;
		if ((s->n & 1023) == 0)
			cond_resched();
	}
	return 0;
}

/*
 * netlens_set_build - the set of field @field (NETLENS_SET_*) from every
 * attribute @type of the request: an attribute holds at most 64 KiB, so a
 * large set comes in several, whose elements are joined.  NULL when they
 * are all empty (no set), an ERR_PTR with an extack message when it is
 * refused.  May sleep.
 */
struct netlens_set *netlens_set_build(const struct genl_info *info, int type,
				      int field, struct netlink_ext_ack *extack)
{
	const struct nlattr *attrs = genlmsg_data(info->genlhdr);
	int len = genlmsg_len(info->genlhdr);
	const struct nlattr *nest, *a;
	struct netlens_set *s;
	int rem, rem2, n = 0;
	u32 slots;
	bool ports;

	nla_for_each_attr(nest, attrs, len, rem) {
		if (nla_type(nest) != type)
			continue;
		nla_for_each_nested(a, nest, rem2)
			n++;
		if (n > NETLENS_SET_MAX) {
			NL_SET_ERR_MSG_ATTR(extack, nest, "a set holds at most 65536 elements");
			return ERR_PTR(-E2BIG);
		}
	}
	if (!n)
		return NULL;
	ports = field == NETLENS_SET_SPORT || field == NETLENS_SET_DPORT;
	slots = roundup_pow_of_two(max(2 * n, 16));
	s = netlens_set_alloc(ports ? sizeof(*s) + BITS_TO_LONGS(65536) * sizeof(long) :
				      struct_size(s, slots, slots), extack);
	if (IS_ERR(s))
		return s;
	if (!ports)
		s->mask = slots - 1;
	nla_for_each_attr(nest, attrs, len, rem) {
		int err;

		if (nla_type(nest) != type)
			continue;
		if (ports)
			err = netlens_set_add_ports(s, nest, extack);
		else
			err = netlens_set_add_addrs(s, nest, extack);
		if (err) {
			netlens_set_put(s);
			return ERR_PTR(err);
		}
	}
	if (!ports) {
		int plen;

		for (plen = 128; plen > 0; plen--)
			if (test_bit(plen, s->plens))
				s->plen[s->nplens++] = plen;
	}
	return s;
}

/*
 * netlens_set_fill - put the elements of @s from *@cursor on in a nest of
 * type @attr until @skb is full; *@cursor says where the next message
 * starts (U32_MAX when every element was put).  -EMSGSIZE when not even one
 * element fits.
 */
int netlens_set_fill(struct sk_buff *skb, const struct netlens_set *s,
		     int attr, u32 *cursor)
{
	bool ports = !s->family;
	u32 i, end = ports ? 65536 : s->mask + 1;
	struct nlattr *nest, *pn;
	int put = 0;

	nest = nla_nest_start(skb, attr);
	if (!nest)
		return -EMSGSIZE;
	for (i = *cursor; i < end; i++) {
		const struct netlens_set_slot *sl;

		if (ports) {
			if (!test_bit(i, s->ports))
				continue;
			if (nla_put_u16(skb, NETLENS_A_SET_PORT, i))
				break;
			put++;
			continue;
		}
		sl = &s->slots[i];
		if (!sl->plen)
			continue;
		pn = nla_nest_start(skb, NETLENS_A_SET_PREFIX);
		if (!pn)
			break;
		if (nla_put(skb, NETLENS_A_PFX_ADDR,
			    s->family == NETLENS_FAMILY_IPV4 ? 4 : 16, &sl->addr) ||
		    nla_put_u8(skb, NETLENS_A_PFX_PLEN, sl->plen)) {
			nla_nest_cancel(skb, pn);
			break;
		}
		nla_nest_end(skb, pn);
		put++;
	}
	if (!put && i < end) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	*cursor = i < end ? i : U32_MAX;
	return 0;
}
