// SPDX-License-Identifier: GPL-2.0
/*
 * hookonly.c - a test module, never installed: it registers the ten hooks
 * netlens.ko registers (IPv4 and IPv6, all five hooks, accepting every
 * packet) in every network namespace and unregisters them in the pernet
 * .pre_exit at unload, as netlens does, and does nothing else.  The
 * hookonly-flood experiment of the qemu suite loads and unloads it under
 * floods to tell a netlens bug from the emulator's (docs/kernelmod.md, the
 * unload soft lockup).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <net/net_namespace.h>

static unsigned int hookonly_hook(void *priv, struct sk_buff *skb,
				  const struct nf_hook_state *state)
{
	return NF_ACCEPT;
}

static struct nf_hook_ops hookonly_ops[2 * NF_INET_NUMHOOKS] __read_mostly;

static int __net_init hookonly_net_init(struct net *net)
{
	return nf_register_net_hooks(net, hookonly_ops, ARRAY_SIZE(hookonly_ops));
}

static void __net_exit hookonly_net_pre_exit(struct net *net)
{
	nf_unregister_net_hooks(net, hookonly_ops, ARRAY_SIZE(hookonly_ops));
}

static struct pernet_operations hookonly_net_ops = {
	.init = hookonly_net_init,
	.pre_exit = hookonly_net_pre_exit,
};

static int __init hookonly_init(void)
{
	int h;

	for (h = 0; h < NF_INET_NUMHOOKS; h++) {
		struct nf_hook_ops *o4 = &hookonly_ops[h];
		struct nf_hook_ops *o6 = &hookonly_ops[NF_INET_NUMHOOKS + h];

		o4->hook = hookonly_hook;
		o4->pf = NFPROTO_IPV4;
		o4->hooknum = h;
		o4->priority = 0;
		*o6 = *o4;
		o6->pf = NFPROTO_IPV6;
	}
	return register_pernet_subsys(&hookonly_net_ops);
}

static void __exit hookonly_exit(void)
{
	unregister_pernet_subsys(&hookonly_net_ops);
}

module_init(hookonly_init);
module_exit(hookonly_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("test only: the netfilter hooks of netlens.ko, accepting everything");
