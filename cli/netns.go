package cli

import (
	"bufio"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/collectors/netns"
)

// netnsCmd is `netlens netns`: every network namespace of the host.
func netnsCmd() *cobra.Command {
	var asJSON, brief bool
	cmd := &cobra.Command{
		Use:   "netns",
		Short: "List every network namespace: names, containers and pods, main process, addresses, sockets",
		Long: `netns lists every network namespace of the host without asking a container
runtime: the named ones (/run/netns, /var/run/docker/netns), those held by
processes (/proc/*/ns/net) and those held only by bind mounts (mountinfo).
Containers and pods are recognised from their processes' cgroups (Docker,
containerd, CRI-O, Podman, machined, LXC, Kubernetes); names come from the
runtimes' state files. '*' marks netlens's own namespace. Any of them can be
given to --netns (NAME, PATH, pid:PID or inode:N).

Exit status: 0 on success; 1 when /proc cannot be read or the output
cannot be written; 2 for invalid flags or arguments.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := netns.Discover(netns.Options{Details: !brief})
			if err != nil {
				return err
			}
			// Buffered: the table is written cell by cell.
			w := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			if err := netns.Print(w, res, asJSON); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&brief, "brief", false, "leave out interfaces, addresses and socket counts (no namespace is entered)")
	return cmd
}

// openNetNS opens the namespace --netns selects (nil for none). A
// selector that does not parse is a usage error.
func (o *options) openNetNS() error {
	if o.netns == "" {
		return nil
	}
	sel, err := netns.ParseSelector(o.netns)
	if err != nil {
		return UsageError{err}
	}
	h, err := netns.Open(sel, netns.Options{})
	if err != nil {
		if errors.Is(err, netns.ErrNotFound) && o.netns == netnsAll {
			return UsageError{fmt.Errorf("%w: --netns all (every namespace) is for netlens serve; the TUI shows every namespace's sockets from its picker (N)", err)}
		}
		if errors.Is(err, netns.ErrNotFound) {
			return fmt.Errorf("%w (netlens netns lists them)", err)
		}
		return err
	}
	var own unix.Stat_t
	if unix.Stat("/proc/self/ns/net", &own) == nil && own.Ino != h.Namespace.Inode && !collectors.HasCapability(unix.CAP_SYS_ADMIN) {
		h.Close()
		return fmt.Errorf("netns %s: entering a network namespace needs CAP_SYS_ADMIN (run as root): %w", sel, collectors.ErrPermission)
	}
	o.ns = h
	cobra.OnFinalize(func() { h.Close() })
	return nil
}

// nsFD is the open namespace file collectors take (0: netlens's own).
func (o options) nsFD() int {
	if o.ns == nil {
		return 0
	}
	return o.ns.FD
}
