package collectors

import (
	"context"
	"fmt"
)

// InNamespace returns a collector that runs c's Collect on a thread that
// entered the network namespace ns (an open namespace file), through
// InNetNS. It is for collectors that read files whose view depends on
// the reading thread's namespace (/proc/thread-self/net, /proc/sys/net)
// and do all their work on the calling goroutine; collectors that open
// sockets take the namespace themselves (their NetNS option). ns 0
// returns c as it is. Source, Note and Close are passed through.
func InNamespace(ns int, c Collector) Collector {
	if ns == 0 {
		return c
	}
	return &inNamespace{ns: ns, c: c}
}

type inNamespace struct {
	ns int
	c  Collector
}

func (n *inNamespace) Name() string { return n.c.Name() }

func (n *inNamespace) Collect(ctx context.Context, pub Publisher) error {
	var err error
	if nerr := InNetNS(n.ns, func() { err = n.c.Collect(ctx, pub) }); nerr != nil {
		return fmt.Errorf("%s: %w", n.c.Name(), nerr)
	}
	return err
}

func (n *inNamespace) Source() string {
	if s, ok := n.c.(Sourcer); ok {
		return s.Source()
	}
	return ""
}

func (n *inNamespace) Note() string {
	if s, ok := n.c.(Noter); ok {
		return s.Note()
	}
	return ""
}

func (n *inNamespace) Close() error {
	if s, ok := n.c.(Closer); ok {
		return s.Close()
	}
	return nil
}
