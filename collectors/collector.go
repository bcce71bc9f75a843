package collectors

import (
	"context"
	"time"

	"netlens/model"
)

// Publisher receives the updates a collector produces. *model.Store
// implements it.
type Publisher interface {
	Publish(model.Update)
}

// CountersCopier is a Publisher that copies a CountersUpdate's
// Counters during Publish and keeps no reference to the list once
// Publish has returned (*model.Store and *model.ScopedPublisher, which
// the Runner gives): a collector publishing into one may fill the same
// list again for its next update, instead of allocating one every
// refresh. Into any other Publisher (tests keep what they are given)
// every update must have a list of its own.
type CountersCopier interface {
	Publisher
	CopiesCounters()
}

// Collector reads one kernel interface and publishes what it read.
//
// Collect is called by the Runner, never concurrently with itself. It
// publishes zero or more updates and returns nil, or an error wrapping
// ErrNotSupported or ErrPermission when the kernel or privileges lack what
// it needs (the message says what: "needs CAP_NET_ADMIN"), or any other
// error. It must return promptly when ctx is done.
type Collector interface {
	Name() string
	Collect(ctx context.Context, pub Publisher) error
}

// Sourcer is implemented by collectors that can read from more than one
// source and want the status to say which one they used.
type Sourcer interface {
	Source() string
}

// Noter is implemented by collectors that can tell, after a successful
// run, what they could only partly read and why.
type Noter interface {
	Note() string
}

// Closer is implemented by collectors that hold resources (sockets,
// goroutines) to release when the Runner stops.
type Closer interface {
	Close() error
}

// Spec is a collector with the interval it runs at.
type Spec struct {
	Collector Collector
	Interval  time.Duration
}
