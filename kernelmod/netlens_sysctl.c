// SPDX-License-Identifier: GPL-2.0
/*
 * netlens_sysctl.c - net.netlens.* sysctls, one set per namespace, bounded
 * with proc_dointvec_minmax; writable by the host's admin only.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/sysctl.h>
#include "netlens.h"

static int netlens_max_rules_hard = NETLENS_MAX_RULES_HARD;

static const struct ctl_table netlens_sysctl_template[] = {
	{
		/* 0 bypasses every rule without deleting them */
		.procname	= "enabled",
		.maxlen		= sizeof(int),
		.mode		= 0644,
		.proc_handler	= proc_dointvec_minmax,
		.extra1		= SYSCTL_ZERO,
		.extra2		= SYSCTL_ONE,
	},
	{
		/* rules a namespace may hold; lowering it keeps existing rules */
		.procname	= "max_rules",
		.maxlen		= sizeof(int),
		.mode		= 0644,
		.proc_handler	= proc_dointvec_minmax,
		.extra1		= SYSCTL_ONE,
		.extra2		= &netlens_max_rules_hard,
	},
	{ }
};

int netlens_sysctl_init(struct net *net, struct netlens_net *nn)
{
	struct ctl_table *tbl;

	tbl = kmemdup(netlens_sysctl_template, sizeof(netlens_sysctl_template),
		      GFP_KERNEL_ACCOUNT);
	if (!tbl)
		return -ENOMEM;
	tbl[0].data = &nn->sysctl_enabled;
	tbl[1].data = &nn->sysctl_max_rules;
	/*
	 * One privilege model (see netlens_genl.c): only the host's admin
	 * changes netlens.  Root of another user namespace would otherwise be
	 * allowed to write its namespace's sysctls (net_ctl_permissions), and
	 * enabled=0 would bypass the rules the host put there; so, as
	 * nf_conntrack does for its limits, they are read-only there.
	 */
	if (net->user_ns != &init_user_ns) {
		tbl[0].mode = 0444;
		tbl[1].mode = 0444;
	}
	nn->sysctl_hdr = register_net_sysctl(net, "net/netlens", tbl);
	if (!nn->sysctl_hdr) {
		kfree(tbl);
		return -ENOMEM;
	}
	return 0;
}

void netlens_sysctl_exit(struct netlens_net *nn)
{
	struct ctl_table *tbl = nn->sysctl_hdr->ctl_table_arg;

	unregister_net_sysctl_table(nn->sysctl_hdr);
	kfree(tbl);
}
