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
	int err, cpu;

	nn->net = net;
	nn->sysctl_enabled = 1;
	nn->sysctl_max_rules = clamp_t(unsigned int, netlens_max_rules_default,
				       1, NETLENS_MAX_RULES_HARD);
	netlens_rules_init(nn);
	netlens_hooks_init(nn);
	nn->hstats = alloc_percpu_gfp(struct netlens_hook_stats,
				      GFP_KERNEL_ACCOUNT);
	if (!nn->hstats)
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		u64_stats_init(&per_cpu_ptr(nn->hstats, cpu)->syncp);
	err = netlens_sysctl_init(net, nn);
	if (err)
		goto free_hstats;
	err = netlens_proc_init(net);
	if (err)
		goto exit_sysctl;
	/* the hooks are registered with the namespace's first rule */
	return 0;

exit_sysctl:
	netlens_sysctl_exit(nn);
free_hstats:
	free_percpu(nn->hstats);
	return err;
}

/*
 * netlens_net_pre_exit - unhook.  nf_unregister_net_hooks() does not wait
 * for packets already inside netlens_hook(); the pernet core runs
 * synchronize_rcu() between every namespace's .pre_exit and .exit (on
 * module unload as on namespace teardown), and the hook runs inside the
 * RCU read section of nf_hook(), so by .exit no CPU is in the hook any more.
 * This is how iptable_filter and nf_tables unhook.
 */
static void __net_exit netlens_net_pre_exit(struct net *net)
{
	netlens_hooks_unregister(netlens_pernet(net));
}

/* netlens_net_exit - free; no packet is in the hooks (see pre_exit). */
static void __net_exit netlens_net_exit(struct net *net)
{
	struct netlens_net *nn = netlens_pernet(net);

	netlens_proc_exit(net);
	netlens_sysctl_exit(nn);
	netlens_rules_exit(nn);
	free_percpu(nn->hstats);
}

static struct pernet_operations netlens_net_ops = {
	.init = netlens_net_init,
	.pre_exit = netlens_net_pre_exit,
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

/*
 * netlens_exit - the family goes first: genl_unregister_family() waits for
 * every command in flight (they hold genl's cb_lock for reading), so no
 * command can register hooks or add rules afterwards; then every namespace
 * is unhooked (.pre_exit), a grace period passes, and it is freed (.exit).
 */
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
