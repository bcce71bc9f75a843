package capture

import (
	"context"
	"time"

	"netlens/model"
)

// OnceOptions are the options of one capture (`netlens capture`).
type OnceOptions struct {
	Options
	// Duration stops a live capture after this long (0: until Count
	// packets or ctx is done).
	Duration time.Duration
	// Write, when set, writes the stored packets (the last
	// Options.StorePackets) as pcapng with atomicfile (a new file is
	// 0600); "-" is standard output. Without it no packet is stored.
	Write string
}

// Once captures (live on opts.Interface until opts.Count packets,
// opts.Duration or ctx is done; or a whole opts.File) and returns the
// statistics, and how many packets it wrote to opts.Write. A live
// capture needs opts.Count or opts.Duration. Stats are nil when nothing
// was captured; a file cut short (a capture copied while it was written)
// still gives the statistics of what it holds, with the error.
func Once(ctx context.Context, opts OnceOptions) (stats *model.CaptureStats, written int, err error) {
	e, err := newEngine(opts.Options)
	if err != nil {
		return nil, 0, err
	}
	if opts.Write == "" {
		// Nothing will read the last packets: do not copy every packet
		// into the store (a fifth of a live capture's CPU at 1,514-byte
		// frames).
		e.store = newPacketStore(0, 0)
	}
	start := time.Now()
	var runErr error
	if opts.File != "" {
		f, err := openFile(opts.File)
		if err != nil {
			return nil, 0, err
		}
		defer f.Close()
		if err := e.setLink(f.link); err != nil {
			return nil, 0, err
		}
		runErr = e.run(ctx, f, nil, time.Time{})
	} else {
		tp, attached, err := e.openLive()
		if err != nil {
			return nil, 0, err
		}
		defer tp.Close()
		if opts.Duration > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, opts.Duration)
			defer cancel()
		}
		// Rates count from when the capture is ready, not from before
		// the ring's setup (tens of milliseconds to allocate).
		start = attached
		e.st.prevAt = start
		if err := e.run(ctx, tp, tp, attached); err != nil {
			return nil, 0, err
		}
	}
	now := time.Now()
	if opts.File == "" {
		e.st.prevAt = start
		if opts.Count > 0 && e.st.packets >= uint64(opts.Count) {
			// Ended by its last packet, which reached netlens up to a
			// block timeout (50 ms) later.
			now = e.st.lastPkt
		}
	}
	cs := e.snapshot(now)
	if opts.Write != "" {
		if written, err = e.WritePcapng(opts.Write, nil); err != nil {
			return nil, 0, err
		}
	}
	return &cs, written, runErr
}
