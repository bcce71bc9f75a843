package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"netlens/collectors/sockets"
	"netlens/model"
)

func printTable(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("print", flag.ExitOnError)
	owners := fs.Bool("owners", true, "resolve owning processes")
	proc := fs.Bool("proc", false, "read /proc/net instead of sock_diag")
	_ = fs.Parse(args)
	opts := sockets.Options{NoOwners: !*owners}
	if *proc {
		opts.Source = sockets.SourceProcNet
	}
	c := sockets.New(opts)
	defer c.Close()
	socks, st, err := c.Sockets(ctx)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for _, s := range socks {
		fmt.Fprintf(w, "%s %s %d %d %s %s %s drops=%d/%v uid=%d ino=%d\n", s.Proto, s.State, s.RecvQ, s.SendQ, addr(s.Local, s.Interface), addr(s.Remote, ""), users(s.Procs), s.Drops, s.HasDrops, s.UID, s.Inode)
	}
	fmt.Fprintf(w, "# %+v\n", st)
	return nil
}

func addr(a interface{ String() string }, ifname string) string {
	s := a.String()
	if ifname != "" {
		i := strings.LastIndexByte(s, ':')
		s = s[:i] + "%" + ifname + s[i:]
	}
	return s
}

func users(ps []model.Proc) string {
	if len(ps) == 0 {
		return "-"
	}
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "(%q,pid=%d,fd=%d)", p.Comm, p.PID, p.FD)
	}
	return b.String()
}
