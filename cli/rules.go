package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"netlens/collectors"
	"netlens/collectors/conntrack"
	"netlens/collectors/ruleset"
	"netlens/collectors/sockets"
	"netlens/control/filter"
	"netlens/control/filter/nft"
	"netlens/model"
	"netlens/model/rules"
)

// RulesConfig configures the `netlens rules` command.
type RulesConfig struct {
	// Guard returns what the lockout guard checks changes against. nil:
	// SSH_CONNECTION and one pass of the sockets and conntrack
	// collectors.
	Guard func(ctx context.Context) filter.GuardInput
	// Open opens the backend (nil: filter.Open); tests replace it.
	Open func(filter.Options) (filter.Backend, error)
	// NetNS returns the open file of the namespace `rules ruleset` reads
	// (--netns); nil or 0: netlens's own.
	NetNS func() int
}

type cliFlags struct {
	backend  string
	json     bool
	force    bool
	revert   time.Duration
	noRevert bool
}

// RulesCmd returns `netlens rules` with its subcommands list, add,
// change, del, enable, disable, confirm, save, load (and the hidden
// revert-watch that the nft backend starts). Invalid input returns a
// UsageError (exit 2) and changes nothing; a change that would cut the
// caller's own SSH session is refused without --force.
func RulesCmd(cfg RulesConfig) *cobra.Command {
	if cfg.Open == nil {
		cfg.Open = filter.Open
	}
	if cfg.Guard == nil {
		cfg.Guard = func(ctx context.Context) filter.GuardInput {
			ns := 0
			if cfg.NetNS != nil {
				ns = cfg.NetNS()
			}
			return defaultGuard(ctx, ns)
		}
	}
	var f cliFlags
	root := &cobra.Command{
		Use:   "rules",
		Short: "List and change filter rules (kernel module or nftables) from scripts",
		Long: `netlens rules lists and changes the filter rules netlens manages: in the
netlens kernel module when it is loaded, else in the nftables table
"inet netlens".

A change that can drop traffic (a new or enabled DROP rule, a removed or
disabled ACCEPT rule, a load) is checked against your SSH session
(SSH_CONNECTION) and the established sockets and conntrack flows; one that
would cut your own session is refused unless --force. It is applied with a
revert deadline (--revert, default 30s): run "netlens rules confirm" before
it, or the change is undone — by the kernel module, or by a helper process
that survives netlens being killed.

Exit status: 0 on success; 1 when the change or read failed (nothing is
left half done), or the backend asked for by name is unavailable; 2 for
invalid input, which changes nothing.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Bare `rules` prints this help (exit 0); an unknown subcommand
		// (`rules delet 5`) is a usage error (exit 2), not help.
		Args: func(cmd *cobra.Command, args []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			cmd.SuggestionsMinimumDistance = 2
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return UsageError{fmt.Errorf("%s\n%s", msg, cmd.UsageString())}
		},
	}
	// The flags every subcommand shares are checked once, before any runs.
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if err := filter.CheckRevert(f.revert); err != nil {
			return UsageError{err}
		}
		if f.noRevert && cmd.Flags().Changed("revert") {
			return UsageError{errors.New("--no-revert and --revert exclude each other")}
		}
		return nil
	}
	pf := root.PersistentFlags()
	pf.StringVar(&f.backend, "filter-backend", rules.BackendAuto, "rules backend: auto, kmod, nft or none")
	pf.BoolVar(&f.json, "json", false, "print JSON")
	pf.BoolVar(&f.force, "force", false, "apply a change even if it would cut your own SSH session")
	pf.DurationVar(&f.revert, "revert", filter.DefaultRevert, "revert deadline of a drop-capable change")
	pf.BoolVar(&f.noRevert, "no-revert", false, "apply a drop-capable change without a revert deadline")

	open := func() (filter.Backend, error) { return cfg.Open(filter.Options{Backend: f.backend}) }
	manager := func(cmd *cobra.Command) (*filter.Manager, error) {
		b, err := open()
		if err != nil {
			return nil, err
		}
		ctx := cmd.Context()
		return &filter.Manager{Backend: b, Revert: f.revert, Guard: func() filter.GuardInput { return cfg.Guard(ctx) }}, nil
	}
	run := func(cmd *cobra.Command, op rules.Op) error {
		m, err := manager(cmd)
		if err != nil {
			return err
		}
		defer m.Backend.Close()
		return applyCLI(cmd, m, op, f)
	}

	list := &cobra.Command{
		Use:   "list",
		Short: "List the rules with their counters",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := open()
			if err != nil {
				return err
			}
			defer b.Close()
			st, err := state(b)
			if err != nil {
				return err
			}
			if f.json {
				return filter.WriteRules(cmd.OutOrStdout(), st)
			}
			printRules(cmd.OutOrStdout(), st)
			return nil
		},
	}

	var every time.Duration
	rulesetCmd := &cobra.Command{
		Use:   "ruleset",
		Short: "List the nftables ruleset outside netlens's own table, with counters (read only)",
		Long: `netlens rules ruleset lists what else filters here, read only: every
nftables table but netlens's own (iptables-nft's from Docker or
kube-proxy, firewalld's, an nft file's), each chain with its type, hook,
priority and policy, and each rule as nft lists it with its counter's
packets and bytes. With --interval it reads twice and gives each rule's
packets in between and per second: which rules are matching, and
dropping, now. --json prints the snapshot's "nftables" section
(docs/snapshot.md).

Exit status: 0; 1 when the ruleset cannot be read (it needs
CAP_NET_ADMIN); 2 for invalid flags.`,
		Example: `  netlens rules ruleset
  netlens rules ruleset --interval 2s
  netlens --netns pid:4242 rules ruleset --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if every < 0 {
				return UsageError{fmt.Errorf("--interval %s: not a duration to wait", every)}
			}
			fd := 0
			if cfg.NetNS != nil {
				fd = cfg.NetNS()
			}
			ctx := cmd.Context()
			c := ruleset.New(ruleset.Options{NetNS: fd})
			t, err := c.Read(ctx)
			if err == nil && every > 0 {
				select {
				case <-time.After(every):
				case <-ctx.Done():
					return ctx.Err()
				}
				t, err = c.Read(ctx)
			}
			if err != nil {
				return fmt.Errorf("nftables ruleset: %w", err)
			}
			if note := c.Note(); note != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "netlens: nftables ruleset: "+note)
			}
			if f.json {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(t)
			}
			printRuleset(cmd.OutOrStdout(), t, every)
			return nil
		},
	}
	rulesetCmd.Flags().DurationVar(&every, "interval", 0, "read twice this long apart: each rule's packets in between and per second")

	var rf ruleFlags
	add := &cobra.Command{
		Use:   "add --action accept|drop|reject|count [match flags]",
		Short: "Add a rule",
		Example: `  netlens rules add --action drop --proto tcp --dport 8080 --label "block 8080"
  netlens rules add --action accept --src 10.0.0.0/8 --hook input,forward
  netlens rules add --action drop --ct-state new --proto tcp --dport 8080
  netlens rules add --action drop --proto icmp --icmp echo-request
  netlens rules add --action drop --proto tcp --tcp-flags syn/syn,ack --dport 25
  netlens rules add --action drop --src '!10.0.0.0/8' --proto tcp --dport 22`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := rf.rule(cmd.Flags(), model.Rule{Enabled: true})
			if err != nil {
				return err
			}
			return run(cmd, rules.Op{Kind: rules.OpAdd, Rule: r})
		},
	}
	rf.register(add.Flags())

	var cf ruleFlags
	change := &cobra.Command{
		Use:   "change ID [match flags]",
		Short: "Change the fields given of a rule",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			m, err := manager(cmd)
			if err != nil {
				return err
			}
			defer m.Backend.Close()
			rs, err := m.Backend.List()
			if err != nil {
				return err
			}
			var cur *model.Rule
			for i := range rs {
				if rs[i].ID == id {
					cur = &rs[i]
				}
			}
			if cur == nil {
				return UsageError{fmt.Errorf("no rule with id %d", id)}
			}
			r, err := cf.rule(cmd.Flags(), *cur)
			if err != nil {
				return err
			}
			return applyCLI(cmd, m, rules.Op{Kind: rules.OpChange, ID: id, Rule: r}, f)
		},
	}
	cf.register(change.Flags())

	idCmd := func(use, short string, kind rules.OpKind) *cobra.Command {
		return &cobra.Command{
			Use: use + " ID", Short: short, Args: usageArgs(cobra.ExactArgs(1)),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := parseID(args[0])
				if err != nil {
					return err
				}
				return run(cmd, rules.Op{Kind: kind, ID: id})
			},
		}
	}

	logCmd := &cobra.Command{
		Use:   "log [ID]",
		Short: "Stream the packet log: the packets rules with --log match (all such rules, or rule ID)",
		Long: `netlens rules log streams, until interrupted, one line (or with --json one
JSON object) per packet a rule with --log matched: rule, hook, verdict,
addresses, ports, length, TCP flags, interfaces, conntrack state. Each rule
logs at most its --log-rate packets a second; the rest are counted in the
rule's log_dropped (netlens rules list --json). A count rule with --log is
a dry run: it shows which packets a drop rule would hit. Kernel module:
its "packets" genetlink group, any number of readers. nftables: the
nfnetlink_log group 20044 of the namespace, one reader at a time (a
second one is refused: another process reads the group).`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var id uint32
			if len(args) == 1 {
				var err error
				if id, err = parseID(args[0]); err != nil {
					return err
				}
			}
			b, err := open()
			if err != nil {
				return err
			}
			defer b.Close()
			// A rule that does not exist or does not log would show
			// nothing, silently, until interrupted: say so.
			rs, err := b.List()
			if err != nil {
				return err
			}
			i := slices.IndexFunc(rs, func(r model.Rule) bool { return r.ID == id || (id == 0 && r.Log) })
			switch {
			case id != 0 && i < 0:
				return UsageError{fmt.Errorf("no rule with id %d", id)}
			case id != 0 && !rs[i].Log:
				fmt.Fprintf(cmd.ErrOrStderr(), "netlens: rule %d does not log: nothing shows until it does (netlens rules change %d --log)\n", id, id)
			case i < 0:
				fmt.Fprintln(cmd.ErrOrStderr(), "netlens: no rule logs: nothing shows until one does (a rule with --log)")
			}
			pl, ok := b.(filter.PacketLogger)
			if !ok {
				return fmt.Errorf("rules log: the %s backend has no packet log (the netlens kernel module and nftables have)", b.Name())
			}
			out := cmd.OutOrStdout()
			enc := json.NewEncoder(out)
			lost := 0
			err = pl.PacketLog(cmd.Context(), id, func(p model.LoggedPacket) {
				if f.json {
					_ = enc.Encode(p)
					return
				}
				fmt.Fprintln(out, rules.PacketLine(p))
			}, func() {
				lost++
				fmt.Fprintf(cmd.ErrOrStderr(), "rules log: events lost (reading too slowly), %d times so far\n", lost)
			})
			return err
		},
	}

	var policyFamily string
	policy := &cobra.Command{
		Use:   "policy [HOOK accept|drop]",
		Short: "Show the default policies, or set one: what a packet no rule decides gets",
		Long: `netlens rules policy prints the default policy of every hook and family:
what a packet that no accept, drop or reject rule decides gets (accept
until set). With HOOK and a verdict it sets the policy of HOOK
(prerouting, input, forward, output or postrouting) for --family (both by
default).

A drop policy is a drop-capable change like a drop rule: it is checked
against your SSH session and the established connections (the guard names
the policy when no rule would let them through), refused without --force
when it would cut your own session, and applied with a revert deadline
(--revert): unless "netlens rules confirm" comes first, the old policy
comes back. Add accept rules for what must pass (your SSH port) first.
Kernel module: the module's own policy. nftables: a last rule "meta
nfproto ipv4 drop" in the hook's chain of table inet netlens (its chains
stay policy accept); both families in one transaction.`,
		Example: `  netlens rules add --action accept --proto tcp --dport 22 --label ssh
  netlens rules policy input drop
  netlens rules confirm`,
		Args: usageArgs(func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 && len(args) != 2 {
				return fmt.Errorf("want no argument, or HOOK and accept|drop, got %d", len(args))
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				b, err := open()
				if err != nil {
					return err
				}
				defer b.Close()
				return printPolicies(cmd.OutOrStdout(), b, f.json)
			}
			pol, err := rules.ParsePolicy(args[0], args[1], policyFamily)
			if err != nil {
				return UsageError{err}
			}
			return run(cmd, rules.Op{Kind: rules.OpPolicy, Policy: pol})
		},
	}
	policy.Flags().StringVar(&policyFamily, "family", "both", "ipv4, ipv6 or both")

	confirm := &cobra.Command{
		Use:   "confirm [TXN]",
		Short: "Keep a pending change (all pending changes without TXN)",
		Args:  usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var txn uint32
			if len(args) == 1 {
				var err error
				if txn, err = parseID(args[0]); err != nil {
					return err
				}
			}
			m, err := manager(cmd)
			if err != nil {
				return err
			}
			defer m.Backend.Close()
			if err := m.Confirm(txn); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "confirmed")
			return nil
		},
	}

	save := &cobra.Command{
		Use:   "save FILE",
		Short: "Write the rules to FILE as JSON (- for stdout)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := open()
			if err != nil {
				return err
			}
			defer b.Close()
			// No backend read any rule: an empty file would, loaded
			// later, delete every rule.
			if b.Name() == rules.BackendNone {
				return fmt.Errorf("rules save: no filter backend to read the rules from (%s): nothing written", b.ReadOnly())
			}
			st, err := state(b)
			if err != nil {
				return err
			}
			if args[0] == "-" {
				return filter.WriteRules(cmd.OutOrStdout(), st)
			}
			return filter.SaveFile(args[0], st)
		},
	}

	load := &cobra.Command{
		Use:   "load FILE",
		Short: "Replace every rule with those of FILE, all or none",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				fh, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer fh.Close()
				in = fh
			}
			rs, err := filter.ParseRules(in)
			if err != nil {
				return UsageError{fmt.Errorf("%s: %w (nothing changed)", args[0], err)}
			}
			return run(cmd, rules.Op{Kind: rules.OpLoad, Rules: rs})
		},
	}

	watch := &cobra.Command{
		Use:    "revert-watch STATE",
		Short:  "Internal: the nft backend's revert helper",
		Hidden: true,
		Args:   usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return nft.RevertWatch(args[0])
		},
	}

	root.AddCommand(list, add, change,
		idCmd("del", "Delete a rule", rules.OpDelete),
		idCmd("enable", "Enable a rule", rules.OpEnable),
		idCmd("disable", "Disable a rule", rules.OpDisable),
		confirm, save, load, watch, logCmd, policy, rulesetCmd)
	flagErr := func(cmd *cobra.Command, err error) error {
		return UsageError{fmt.Errorf("%w\n%s", err, cmd.UsageString())}
	}
	root.SetFlagErrorFunc(flagErr)
	for _, c := range root.Commands() {
		c.SetFlagErrorFunc(flagErr)
		c.SilenceUsage, c.SilenceErrors = true, true
	}
	return root
}

// usageArgs makes an argument check's error a UsageError.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return UsageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
		}
		return nil
	}
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, UsageError{fmt.Errorf("%q is not a rule id or transaction (a number from 1)", s)}
	}
	return uint32(n), nil
}

// ruleFlags are the flags that describe a rule.
type ruleFlags struct {
	action, hooks, family, proto, src, dst, sport, dport, iif, oif, label string
	srcSet, dstSet, sportSet, dportSet                                    string
	ctState, icmp, tcpFlags, negate                                       string
	priority, logRate                                                     uint32
	disabled, log                                                         bool
}

// setText is the text of a set flag: the value itself ("a,b,c"), or the
// file it names after "@" (one element per line, # comments).
func setText(v string) (string, error) {
	name, ok := strings.CutPrefix(v, "@")
	if !ok {
		return v, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("set file: %w", err)
	}
	return string(b), nil
}

func (rf *ruleFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&rf.action, "action", "", "accept, drop, reject or count")
	fs.StringVar(&rf.hooks, "hook", "", "hooks, comma separated: prerouting, input, forward, output, postrouting, or all (default input)")
	fs.StringVar(&rf.family, "family", "", "ipv4, ipv6 or both (default: that of the addresses, else both)")
	fs.StringVar(&rf.proto, "proto", "", "tcp, udp, udplite, sctp, icmp, icmpv6 or a number")
	fs.StringVar(&rf.src, "src", "", "source address or prefix; a leading ! negates a match (--src '!10.0.0.0/8', as nft's !=)")
	fs.StringVar(&rf.dst, "dst", "", "destination address or prefix")
	fs.StringVar(&rf.sport, "sport", "", "source port or range, 1-65535 (1000-2000)")
	fs.StringVar(&rf.dport, "dport", "", "destination port or range, 1-65535")
	fs.StringVar(&rf.srcSet, "src-set", "", "source in a set of addresses/prefixes: a,b,c or @FILE (one per line); \"\" removes it")
	fs.StringVar(&rf.dstSet, "dst-set", "", "destination in a set of addresses/prefixes: a,b,c or @FILE")
	fs.StringVar(&rf.sportSet, "sport-set", "", "source port in a set of ports: 22,80,443 or @FILE")
	fs.StringVar(&rf.dportSet, "dport-set", "", "destination port in a set of ports: 22,80,443 or @FILE")
	fs.StringVar(&rf.iif, "iif", "", "input interface")
	fs.StringVar(&rf.oif, "oif", "", "output interface")
	fs.StringVar(&rf.ctState, "ct-state", "", "conntrack state, any of: new, established, related, invalid, untracked (comma separated)")
	fs.StringVar(&rf.icmp, "icmp", "", "ICMP/ICMPv6 type and optional /code, each by nft(8) name or number: echo-request, destination-unreachable/port-unreachable, 3/3 (needs --proto icmp or icmpv6)")
	fs.StringVar(&rf.tcpFlags, "tcp-flags", "", "TCP flags set: syn, or of a mask: syn/syn,ack (a connection's first packet; needs --proto tcp)")
	fs.StringVar(&rf.negate, "negate", "", "matches that hold when they do not match: src, dst, sport, dport, iif, oif, icmp, tcp_flags, ct_state (or a leading ! on the value)")
	fs.Uint32Var(&rf.priority, "priority", 0, "lower runs first; ties by id")
	fs.StringVar(&rf.label, "label", "", "a label (at most 64 bytes)")
	fs.BoolVar(&rf.disabled, "disabled", false, "add the rule disabled")
	fs.BoolVar(&rf.log, "log", false, "send the packets the rule matches to the packet log (netlens rules log)")
	fs.Uint32Var(&rf.logRate, "log-rate", 0, "packets a second the rule logs at most, 1-100000 (default 10)")
}

// rule applies the flags that were given to base, and validates.
func (rf *ruleFlags) rule(fs *pflag.FlagSet, base model.Rule) (model.Rule, error) {
	r := base
	var errs []rules.FieldError
	set := func(name string, fn func() error) {
		if fs.Changed(name) {
			if err := fn(); err != nil {
				errs = append(errs, rules.FieldError{Field: name, Msg: err.Error()})
			}
		}
	}
	set("action", func() error { r.Action = model.RuleAction(strings.ToLower(rf.action)); return nil })
	set("hook", func() (err error) { r.Hooks, err = rules.ParseHooks(rf.hooks); return })
	set("family", func() error { r.Family = model.Family(strings.ToLower(rf.family)); return nil })
	set("proto", func() error { r.Proto = rf.proto; return nil })
	set("negate", func() (err error) { r.Negate, err = rules.ParseNegate(rf.negate); return })
	// neg takes a leading "!" off the value of a match and negates it (a
	// value given without one is not negated any more)
	neg := func(field, v string) string {
		v, negated := rules.CutNegation(v)
		if !fs.Changed("negate") {
			r.Negate = slices.DeleteFunc(slices.Clone(r.Negate), func(n string) bool { return n == field })
		}
		if negated {
			r.Negate = append(r.Negate, field)
		}
		return v
	}
	set("src", func() (err error) { r.Src, err = rules.ParsePrefix(neg("src", rf.src)); return })
	set("dst", func() (err error) { r.Dst, err = rules.ParsePrefix(neg("dst", rf.dst)); return })
	set("sport", func() (err error) { r.SrcPorts, err = rules.ParsePorts(neg("sport", rf.sport)); return })
	set("dport", func() (err error) { r.DstPorts, err = rules.ParsePorts(neg("dport", rf.dport)); return })
	set("ct-state", func() (err error) { r.CTState, err = rules.ParseCTState(neg("ct_state", rf.ctState)); return })
	set("icmp", func() error { r.ICMP = neg("icmp", rf.icmp); return nil })
	set("tcp-flags", func() error { r.TCPFlags = neg("tcp_flags", rf.tcpFlags); return nil })
	prefixSet := func(field, v string, dst *[]netip.Prefix) func() error {
		return func() error {
			text, err := setText(neg(field, v))
			if err == nil {
				*dst, err = rules.ParsePrefixSet(text)
			}
			return err
		}
	}
	portSet := func(field, v string, dst *[]uint16) func() error {
		return func() error {
			text, err := setText(neg(field, v))
			if err == nil {
				*dst, err = rules.ParsePortSet(text)
			}
			return err
		}
	}
	set("src-set", prefixSet("src", rf.srcSet, &r.SrcSet))
	set("dst-set", prefixSet("dst", rf.dstSet, &r.DstSet))
	set("sport-set", portSet("sport", rf.sportSet, &r.SrcPortSet))
	set("dport-set", portSet("dport", rf.dportSet, &r.DstPortSet))
	set("iif", func() error { r.InIface = neg("iif", rf.iif); return nil })
	set("oif", func() error { r.OutIface = neg("oif", rf.oif); return nil })
	set("priority", func() error { r.Priority = rf.priority; return nil })
	set("label", func() error { r.Label = rf.label; return nil })
	set("disabled", func() error { r.Enabled = !rf.disabled; return nil })
	set("log", func() error { r.Log = rf.log; return nil })
	set("log-rate", func() error { r.LogRate = rf.logRate; return nil })
	if len(errs) > 0 {
		return model.Rule{}, UsageError{&rules.ValidationError{Fields: errs}}
	}
	r.Negate = rules.NormalizeNegate(r.Negate)
	if err := rules.Validate(r); err != nil {
		return model.Rule{}, UsageError{err}
	}
	return r, nil
}

// ErrWouldCutSession is wrapped by the error of a change refused because
// it would cut the caller's own SSH session.
var ErrWouldCutSession = errors.New("refused: the change would cut your own SSH session")

func applyCLI(cmd *cobra.Command, m *filter.Manager, op rules.Op, f cliFlags) error {
	p, err := m.Plan(op)
	if err != nil {
		return err
	}
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if p.Impact.Cuts() {
		fmt.Fprintln(errw, "netlens: warning:", p.Impact)
		for _, h := range p.Impact.Hits {
			fmt.Fprintf(errw, "  %s %s: dropped at %s (%s) by %s\n", h.Kind, h.What, h.Hook, h.Dir, hitText(h))
		}
	}
	if s := p.Impact.Session; s != nil && !f.force {
		return fmt.Errorf("%w: %s (%s) would drop it at %s; use --force to apply anyway",
			ErrWouldCutSession, s.What, hitText(*s), s.Hook)
	}
	if f.noRevert {
		p.Revert = 0
	}
	res, err := m.Apply(p)
	if err != nil {
		return err
	}
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Op       rules.OpKind `json:"op"`
			Rule     model.Rule   `json:"rule,omitzero"`
			Txn      uint32       `json:"txn,omitempty"`
			RevertAt time.Time    `json:"revert_at,omitzero"`
			Cuts     string       `json:"cuts,omitempty"`
		}{op.Kind, res.Rule, res.Txn, res.RevertAt, impactText(p.Impact)})
	}
	what := string(op.Kind)
	if op.Kind == rules.OpPolicy {
		what = "policy " + op.Policy.String()
	} else if res.Rule.ID != 0 {
		what = fmt.Sprintf("%s rule %d", op.Kind, res.Rule.ID)
	} else if op.ID != 0 {
		what = fmt.Sprintf("%s rule %d", op.Kind, op.ID)
	}
	if p.Revert > 0 {
		confirm := fmt.Sprintf("netlens rules confirm %d", res.Txn)
		if len(res.Txns) > 1 {
			confirm = "netlens rules confirm (all pending changes)"
		}
		fmt.Fprintf(out, "%s: applied; it is undone at %s unless confirmed: %s\n",
			what, res.RevertAt.Format(time.TimeOnly), confirm)
		return nil
	}
	fmt.Fprintf(out, "%s: done\n", what)
	return nil
}

// hitText names what drops a hit: `rule 5 "label" (tcp * -> *:22)` or
// the default policy.
func hitText(h rules.Hit) string {
	if h.Policy != nil {
		return h.By()
	}
	return h.By() + " (" + rules.Summary(h.Rule) + ")"
}

// printPolicies prints the default policy of every hook and family, as a
// table or (asJSON) as the backend's hook verdicts.
func printPolicies(w io.Writer, b filter.Backend, asJSON bool) error {
	if _, ok := b.(filter.PolicySetter); !ok {
		if why := b.ReadOnly(); why != "" {
			// Why there is no other backend (no CAP_NET_ADMIN, ...).
			return fmt.Errorf("%s backend: %w (%s)", b.Name(), filter.ErrNoPolicy, why)
		}
		return fmt.Errorf("%s backend: %w", b.Name(), filter.ErrNoPolicy)
	}
	vs, err := b.Verdicts()
	if err != nil {
		return err
	}
	// Both kinds of backend: the module lists its pending policy
	// changes, nftables has its one pending change.
	pending := rules.PendingChanges(b, nil)
	if asJSON {
		type pol struct {
			Family model.Family     `json:"family"`
			Hook   string           `json:"hook"`
			Policy model.RuleAction `json:"policy"`
		}
		out := struct {
			Policies []pol                 `json:"policies"`
			Pending  []model.PendingChange `json:"pending,omitempty"`
		}{Policies: []pol{}, Pending: pending}
		for _, v := range vs {
			out.Policies = append(out.Policies, pol{v.Family, v.Hook, v.Policy})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOOK\tIPV4\tIPV6")
	for _, h := range rules.Hooks {
		row := []string{h, "", ""}
		for _, v := range vs {
			if v.Hook == h {
				i := 1
				if v.Family == model.FamilyIPv6 {
					i = 2
				}
				row[i] = string(v.Policy)
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	for _, p := range pending {
		fmt.Fprintf(w, "pending: txn %d reverts at %s unless confirmed\n", p.Txn, p.RevertAt.Format(time.TimeOnly))
	}
	return nil
}

func impactText(im rules.Impact) string {
	if !im.Cuts() {
		return ""
	}
	return im.String()
}

// state reads a backend's rules section.
func state(b filter.Backend) (model.RulesState, error) {
	// `netlens rules` holds the filter control: it reverts an overdue
	// change (logged in the revert log) before it reads.
	if err := filter.RecoverPending(b); err != nil {
		return model.RulesState{}, err
	}
	rs, err := b.List()
	if err != nil {
		return model.RulesState{}, err
	}
	rs = rules.JSONSafe(rs)
	hooks, err := b.Verdicts()
	if err != nil {
		return model.RulesState{}, err
	}
	return model.RulesState{Backend: b.Name(), ReadOnly: b.ReadOnly(), At: time.Now(), Rules: rs, Hooks: hooks,
		Pending: rules.PendingChanges(b, rs), Events: rules.Events(b)}, nil
}

func printRules(w io.Writer, st model.RulesState) {
	fmt.Fprintf(w, "backend: %s", st.Backend)
	if st.ReadOnly != "" {
		fmt.Fprintf(w, " (%s)", st.ReadOnly)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tON\tHOOKS\tMATCH\tACTION\tPRIO\tPACKETS\tBYTES\tLABEL\tPENDING")
	for _, r := range st.Rules {
		on := "on"
		if !r.Enabled {
			on = "off"
		}
		pend := ""
		if r.PendingTxn != 0 {
			pend = fmt.Sprintf("txn %d, reverts %s", r.PendingTxn, r.RevertAt.Format(time.TimeOnly))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", r.ID, on, strings.Join(r.Hooks, ","), rules.Summary(r),
			r.Action, r.Priority, r.Packets, r.Bytes, r.Label, pend)
	}
	tw.Flush()
	for _, h := range st.Hooks {
		if h.Policy == model.ActionDrop {
			fmt.Fprintf(w, "policy: %s\n", rules.Policy{Family: h.Family, Hook: h.Hook, Verdict: h.Policy})
		}
	}
	for _, p := range st.Pending {
		fmt.Fprintf(w, "pending: txn %d reverts at %s unless confirmed\n", p.Txn, p.RevertAt.Format(time.TimeOnly))
	}
	for _, e := range st.Events {
		fmt.Fprintln(w, EventLine(e))
	}
}

// EventLine is one revert log entry as `rules list` prints it:
// "revert log: 12:00:01 txn 7 revert helper (pid 42): reverted at the
// deadline", with "ERROR" after the time for an entry to look at.
func EventLine(e model.RulesEvent) string {
	lvl := ""
	if e.Error {
		lvl = " ERROR"
	}
	return fmt.Sprintf("revert log: %s%s txn %d %s: %s", e.At.Local().Format(time.DateTime), lvl, e.Txn, e.By, e.Message)
}

// defaultGuard is SSH_CONNECTION plus one pass of the sockets and
// conntrack collectors (each bounded; a collector that cannot run adds
// nothing), in the network namespace netns (an open namespace file; 0
// for netlens's own), the one the rules are changed in (guardInNetNS).
func defaultGuard(ctx context.Context, netns int) filter.GuardInput {
	store := model.NewStore("", "", time.Now())
	ct := conntrack.New(conntrack.Config{NoEvents: true, NetNS: netns})
	r := collectors.NewRunner(store, collectors.Spec{Collector: sockets.New(sockets.Options{NetNS: netns}), Interval: time.Second},
		collectors.Spec{Collector: ct, Interval: time.Second})
	r.Once(ctx, 3*time.Second)
	r.Wait()
	return guardInNetNS(filter.GuardFromSnapshot(store.Snapshot()), netns)
}

// guardInNetNS is in for a change in the network namespace netns (an
// open namespace file; 0: netlens's own, in unchanged): the host's
// addresses are that namespace's, and the SSH session is checked only
// where it can pass, when its server address is one of the namespace's
// or conntrack there tracks it (forwarded). in's sockets and flows must
// be the namespace's.
func guardInNetNS(in filter.GuardInput, netns int) filter.GuardInput {
	if netns == 0 {
		return in
	}
	var addrs []netip.Addr
	if err := collectors.InNetNS(netns, func() { addrs = filter.LocalAddrs() }); err != nil || len(addrs) == 0 {
		// Unknown: every flow is checked at every hook, and the
		// session is kept.
		in.LocalAddrs = nil
		return in
	}
	in.LocalAddrs = addrs
	if in.SSH != nil && !filter.SessionPasses(*in.SSH, addrs, in.Flows) {
		in.SSH = nil
	}
	return in
}

// printRuleset writes the nftables ruleset t as `netlens rules ruleset`
// lists it: a line per table and chain, a line per rule with its handle,
// its text as nft lists it and its counter; with every > 0 (two readings
// that far apart) also its packets in between and per second. A chain
// whose rules could not be decoded says why.
func printRuleset(w io.Writer, t model.NFTables, every time.Duration) {
	if len(t.Chains) == 0 {
		fmt.Fprintln(w, "no nftables table (netlens's own left out)")
		return
	}
	table := ""
	for _, ch := range t.Chains {
		if k := ch.Family + " " + ch.Table; k != table {
			table = k
			fmt.Fprintln(w, "table "+sanitizeLine(k))
		}
		head := "  chain " + sanitizeLine(ch.Name)
		if ch.Hook != "" {
			head += fmt.Sprintf("  type %s hook %s priority %d", ch.Type, ch.Hook, ch.Priority)
			if ch.Policy != "" {
				head += "  policy " + ch.Policy
			}
		}
		fmt.Fprintln(w, head)
		if ch.Unreadable != "" {
			fmt.Fprintln(w, "    (rules not readable: "+sanitizeLine(ch.Unreadable)+")")
			continue
		}
		for _, r := range ch.Rules {
			line := fmt.Sprintf("    %-6d %s", r.Handle, sanitizeLine(r.Text))
			if r.Counter {
				line += fmt.Sprintf("  [packets %d bytes %d", r.Packets, r.Bytes)
				if every > 0 {
					line += fmt.Sprintf(", +%d in %s, %.1f/s", r.Delta, every, r.Rate)
				}
				line += "]"
			}
			fmt.Fprintln(w, line)
		}
	}
}

// sanitizeLine replaces control characters (a rule's comment is anyone's
// text) so that a line cannot move the terminal's cursor or colour it.
func sanitizeLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return '?'
		}
		return r
	}, s)
}
