package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	colsysctl "netlens/collectors/sysctl"
	"netlens/control/filter"
	ctlsysctl "netlens/control/sysctl"
	"netlens/model"
	"netlens/ui"
)

// sysctlCmd is `netlens sysctl`: set (with a revert deadline), confirm,
// log, and the hidden revert-watch the revert helper runs.
func sysctlCmd(o *options) *cobra.Command {
	var revert time.Duration
	var noRevert, force bool
	root := &cobra.Command{
		Use:   "sysctl",
		Short: "Change net.* sysctls with a revert deadline, confirm, and show the change journal",
		Long: `netlens sysctl changes writable net.* sysctls of this host (or of the
--netns namespace) with the same safety net as filter rules: the value is
validated (an integer, a vector of integers or a word, as the current
value is; the documented range of common ones), written, and written back
at the revert deadline (--revert, default 30s, 5s..1h) unless
"netlens sysctl confirm" comes first — by a helper process that survives
netlens being killed. --no-revert writes it for good. A change that could
cut your SSH session (ip_forward on a router, rp_filter or disable_ipv6 on
the session's interface, ...) is refused unless --force. Every change is
in the journal ("netlens sysctl log", the snapshot's sysctl_changes).

Exit status: 0 on success; 1 when the write failed or was refused by the
guard, or there is nothing to confirm; 2 for invalid input (an unknown or
read-only sysctl, a value of the wrong type or out of range, bad flags),
which changes nothing.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	ctl := func() *ctlsysctl.Control { return ctlsysctl.New(ctlsysctl.Options{NetNS: o.nsFD()}) }
	set := &cobra.Command{
		Use:   "set NAME=VALUE",
		Short: "Write a sysctl; it is written back at the deadline unless confirmed",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, value, ok := strings.Cut(args[0], "=")
			if !ok {
				return UsageError{fmt.Errorf("sysctl set %q: want NAME=VALUE", args[0])}
			}
			if noRevert && cmd.Flags().Changed("revert") {
				return UsageError{errors.New("--no-revert and --revert exclude each other")}
			}
			d := revert
			if noRevert {
				d = 0
			} else if err := filter.CheckRevert(d); err != nil {
				return UsageError{err}
			}
			c := ctl()
			p, err := c.Plan(name, value, d)
			if err != nil {
				return sysctlErr(err)
			}
			w := cmd.OutOrStdout()
			if len(p.Risks) > 0 && !force {
				return fmt.Errorf("refused by the guard (--force applies it anyway):\n  %s", strings.Join(p.Risks, "\n  "))
			}
			if p.Old == p.New {
				fmt.Fprintf(w, "%s = %s already: nothing to do\n", p.Name, p.New)
				return nil
			}
			res, err := c.Apply(p)
			if err != nil {
				return err
			}
			printSet(w, p, res)
			return nil
		},
	}
	set.Flags().DurationVar(&revert, "revert", filter.DefaultRevert, "revert deadline: the old value is written back then unless confirmed (5s..1h)")
	set.Flags().BoolVar(&noRevert, "no-revert", false, "write the value for good, without a revert deadline")
	set.Flags().BoolVar(&force, "force", false, "apply a change the guard says could cut your SSH session")
	confirm := &cobra.Command{
		Use:   "confirm",
		Short: "Keep the sysctl change waiting for a confirm",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := ctl().Confirm()
			if err != nil {
				return rootsFiles(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "confirmed: %s = %s is kept (it was %s)\n", p.Name, p.New, p.Old)
			return nil
		},
	}
	log := &cobra.Command{
		Use:   "log",
		Short: "Print the pending sysctl change and the change journal",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ch, err := ctl().Changes()
			if err != nil {
				return rootsFiles(err)
			}
			printSysctlChanges(cmd.OutOrStdout(), ch)
			return nil
		},
	}
	watch := &cobra.Command{
		Use:    "revert-watch STATE",
		Short:  "Internal: the sysctl revert helper",
		Hidden: true,
		Args:   usageArgs(cobra.ExactArgs(1)),
		RunE:   func(cmd *cobra.Command, args []string) error { return ctlsysctl.RevertWatch(args[0]) },
	}
	root.AddCommand(set, confirm, log, watch)
	return root
}

// sysctlErr makes an invalid change a usage error (exit 2).
func sysctlErr(err error) error {
	if errors.Is(err, ctlsysctl.ErrInvalid) {
		return UsageError{fmt.Errorf("%w (nothing changed)", err)}
	}
	return err
}

func printSet(w io.Writer, p ctlsysctl.Plan, res ctlsysctl.Result) {
	if res.RevertAt.IsZero() {
		fmt.Fprintf(w, "%s: %s -> %s (kept: no revert deadline)\n", p.Name, p.Old, p.New)
		return
	}
	fmt.Fprintf(w, "%s: %s -> %s; written back to %s at %s (in %s) unless \"netlens sysctl confirm\"\n",
		p.Name, p.Old, p.New, p.Old, res.RevertAt.Local().Format("15:04:05"), p.Revert)
}

// printSysctlChanges prints the pending change and the journal, oldest
// first.
func printSysctlChanges(w io.Writer, ch *model.SysctlChanges) {
	if ch == nil {
		fmt.Fprintln(w, "no sysctl change was made in this namespace (since boot)")
		return
	}
	if p := ch.Pending; p != nil {
		fmt.Fprintf(w, "PENDING: %s = %s (was %s), written back at %s unless confirmed\n", p.Name, p.New, p.Old, p.RevertAt.Local().Format("15:04:05"))
	}
	for _, e := range ch.Journal {
		fmt.Fprintf(w, "%s  %-9s %s: %s -> %s  by %s (uid %d) %s", e.At.Local().Format("2006-01-02 15:04:05"), e.Outcome, e.Name, e.Old, e.New, e.User, e.UID, e.By)
		if e.Message != "" {
			fmt.Fprintf(w, ": %s", e.Message)
		}
		fmt.Fprintln(w)
	}
}

// sysctlTUI is the TUI's sysctl control (ui.SysctlControl): a
// control/sysctl.Control of the namespace the collectors read now, with
// the TUI's --revert deadline; after a change it publishes the new value
// and the journal at once (the sysctl collector reads them every 10 s).
// It is safe for concurrent use.
type sysctlTUI struct {
	store  *model.Store
	holdNS func() (int, func())
	revert time.Duration

	mu   sync.Mutex
	last *model.SysctlChanges // what loop published last
}

// ctl returns a control of the sysctls of the namespace the TUI shows,
// and the release of that namespace's file, to call when done with it.
func (t *sysctlTUI) ctl() (*ctlsysctl.Control, func()) {
	fd, release := t.holdNS()
	return ctlsysctl.New(ctlsysctl.Options{NetNS: fd}), release
}

// Plan implements ui.SysctlControl.
func (t *sysctlTUI) Plan(name, value string) (ui.SysctlPlan, error) {
	c, release := t.ctl()
	defer release()
	p, err := c.Plan(name, value, t.revert)
	return ui.SysctlPlan(p), err
}

// Apply implements ui.SysctlControl.
func (t *sysctlTUI) Apply(p ui.SysctlPlan) (ui.SysctlResult, error) {
	c, release := t.ctl()
	defer release()
	res, err := c.Apply(ctlsysctl.Plan(p))
	t.publish(c, true)
	return ui.SysctlResult(res), err
}

// Confirm implements ui.SysctlControl.
func (t *sysctlTUI) Confirm() (model.SysctlPending, error) {
	c, release := t.ctl()
	defer release()
	p, err := c.Confirm()
	t.publish(c, true)
	return p, err
}

// publish publishes the journal (when it changed, or always when force)
// and the current values of the sysctls its latest entries name.
func (t *sysctlTUI) publish(c *ctlsysctl.Control, force bool) {
	ch, err := c.Changes()
	if err != nil {
		return
	}
	t.mu.Lock()
	same := reflect.DeepEqual(ch, t.last)
	t.last = ch
	t.mu.Unlock()
	if same && !force {
		return
	}
	t.store.Publish(model.SysctlChangesUpdate{Changes: ch})
	if ch == nil {
		return
	}
	names := map[string]string{}
	if ch.Pending != nil {
		names[ch.Pending.Name] = ""
	}
	for _, e := range ch.Journal[max(len(ch.Journal)-4, 0):] {
		names[e.Name] = ""
	}
	for n := range names {
		if v, err := c.Value(n); err == nil {
			names[n] = v
		} else {
			delete(names, n)
		}
	}
	snap, lease := t.store.Hold()
	lease.Release() // the sysctls only
	out := slices.Clone(snap.Sysctls)
	changed := false
	for i := range out {
		if v, ok := names[out[i].Name]; ok && out[i].Value != v {
			out[i].Value, changed = v, true
		}
	}
	if changed {
		t.store.Publish(model.SysctlsUpdate{At: time.Now(), Sysctls: out})
	}
}

// loop is the TUI's safety net for sysctl changes, every interval until
// ctx is done: an overdue change whose helper died is written back
// (control/sysctl.Control.Recover), and the journal, when it moved (a
// helper's revert), is published with the values it names.
func (t *sysctlTUI) loop(ctx context.Context, every time.Duration) {
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		c, release := t.ctl()
		_, _ = c.Recover()
		t.publish(c, false)
		release()
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
	}
}

// rootsFiles says why a sysctl change file cannot be read without
// privileges: they are root's (0700 /run/netlens/sysctl).
func rootsFiles(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w (the sysctl changes under %s are root's: run as root)", err, colsysctl.DefaultStateDir)
	}
	return err
}
