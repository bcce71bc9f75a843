package netns

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Print writes the namespaces as a table (or, with asJSON, as the JSON
// of Result), for `netlens netns`.
func Print(w io.Writer, r *Result, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "\tINODE\tNAME\tCONTAINER\tPOD\tPID\tCOMMAND\tPROCS\tSOCKETS\tADDRESSES")
	for i := range r.Namespaces {
		n := &r.Namespaces[i]
		mark := " "
		if n.Current {
			mark = "*"
		}
		name := strings.Join(n.Names, ",")
		if name == "" && len(n.Mounts) > 0 {
			name = n.Mounts[0]
		}
		m := n.Model()
		socks := "-"
		if n.Sockets != nil {
			socks = strconv.Itoa(n.Sockets.Total())
		}
		var addrs []string
		for _, it := range n.Interfaces {
			if it.Name == "lo" {
				continue
			}
			for _, a := range it.Addrs {
				addrs = append(addrs, it.Name+":"+a)
			}
		}
		pid := "-"
		if n.PID > 0 {
			pid = strconv.Itoa(n.PID)
		}
		cmd := n.Cmdline
		if cmd == "" && n.Comm != "" {
			cmd = "[" + n.Comm + "]" // a kernel thread, as ps shows it
		}
		if len(cmd) > 40 {
			cmd = cmd[:40]
		}
		if !n.Enterable {
			cmd += " (" + n.Reason + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", mark, n.Inode, dash(name), dash(m.Container), dash(m.Pod), pid, dash(cmd), n.NProcs, socks, dash(strings.Join(addrs, " ")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Unreadable > 0 {
		_, err := fmt.Fprintf(w, "processes whose namespace could not be read (needs ptrace access, CAP_SYS_PTRACE): %d\n", r.Unreadable)
		return err
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
