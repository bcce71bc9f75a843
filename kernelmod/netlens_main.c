// SPDX-License-Identifier: GPL-2.0
/*
 * netlens_main.c - module init/exit and the per-namespace state
 * (pernet_operations).
 *
 * netlens: netfilter hook filtering with per-rule counters, controlled over
 * the "netlens" generic netlink family, shown in /proc/net/netlens.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/netfilter_ipv4.h>
#include <linux/percpu.h>
#include <net/netns/generic.h>
#include "netlens.h"

unsigned int netlens_net_id __read_mostly;

int netlens_hook_priority __read_mostly = NF_IP_PRI_FILTER;
module_param_named(hook_priority, netlens_hook_priority, int, 0444);
MODULE_PARM_DESC(hook_priority,
		 "netfilter priority of the netlens hooks (default 0, the filter table's)");

unsigned int netlens_max_rules_default __read_mostly = 65536;
module_param_named(max_rules, netlens_max_rules_default, uint, 0444);
MODULE_PARM_DESC(max_rules,
		 "initial net.netlens.max_rules of every namespace (1..1048576, default 65536)");

static int __net_init netlens_net_init(struct net *net)
{
	struct netlens_net *nn = netlens_pernet(net);
	int err;

	nn->net = net;
	nn->sysctl_enabled = 1;
	nn->sysctl_max_rules = clamp_t(unsigned int, netlens_max_rules_default,
				       1, NETLENS_MAX_RULES_HARD);
	netlens_rules_init(nn);
	nn->hstats = alloc_percpu(struct netlens_hook_stats);
	if (!nn->hstats)
		return -ENOMEM;
	err = netlens_sysctl_init(net, nn);
	if (err)
		goto free_hstats;
	err = netlens_proc_init(net);
	if (err)
		goto exit_sysctl;
	err = netlens_hooks_register(net, nn);
	if (err)
		goto exit_proc;
	return 0;

exit_proc:
	netlens_proc_exit(net);
exit_sysctl:
	netlens_sysctl_exit(nn);
free_hstats:
	free_percpu(nn->hstats);
	return err;
}

static void __net_exit netlens_net_exit(struct net *net)
{
	struct netlens_net *nn = netlens_pernet(net);

	/* no packet sees the rules after this (it waits for packets in flight) */
	netlens_hooks_unregister(net, nn);
	netlens_proc_exit(net);
	netlens_sysctl_exit(nn);
	netlens_rules_exit(nn);
	free_percpu(nn->hstats);
}

static struct pernet_operations netlens_net_ops = {
	.init = netlens_net_init,
	.exit = netlens_net_exit,
	.id   = &netlens_net_id,
	.size = sizeof(struct netlens_net),
};

static int __init netlens_init(void)
{
	int err;

	err = register_pernet_subsys(&netlens_net_ops);
	if (err)
		return err;
	err = netlens_genl_init();
	if (err)
		goto unregister_pernet;
	pr_info("loaded: hooks at priority %d, max_rules %u\n",
		netlens_hook_priority, netlens_max_rules_default);
	return 0;

unregister_pernet:
	unregister_pernet_subsys(&netlens_net_ops);
	return err;
}

static void __exit netlens_exit(void)
{
	netlens_genl_exit();
	unregister_pernet_subsys(&netlens_net_ops);
	rcu_barrier();	/* rules freed with call_rcu must be gone */
	pr_info("unloaded\n");
}

module_init(netlens_init);
module_exit(netlens_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("netlens authors");
MODULE_DESCRIPTION("netfilter filtering with per-rule counters, controlled over generic netlink");
MODULE_ALIAS_GENL_FAMILY(NETLENS_GENL_NAME);
