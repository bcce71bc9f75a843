package ui

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"netlens/model"
)

// tracedDrops is the eBPF drop tracer's drops per socket of a snapshot:
// each traced flow counted on the socket that owns it (by socket cookie,
// else by tuple: model.Snapshot.DropOwners), for the Connections tab's
// Drops column and details. Not safe for concurrent use.
type tracedDrops struct {
	on      bool // the tracer runs: the Drops column counts its drops
	flowsOf []model.DropTraceFlow
	socksOf listID // the socket list owners were found in
	owners  []int  // by flow of flowsOf: the socket index that owns it, or -1
	index   model.DropOwnerIndex
	packets map[int]uint64 // by socket index
}

// update recomputes the counts when the snapshot's flows or sockets
// changed. After a flood the tracer keeps thousands of flows, and the
// sockets change every refresh: it allocates per socket that owns a
// flow, not per flow, and leaves the breakdown by reason to reasons.
func (t *tracedDrops) update(s *model.Snapshot) {
	t.on = s.DropTrace.Supported
	id := idOf(s.Sockets, s.SocketsSeq)
	if !t.on || sameSlice(t.flowsOf, s.DropTrace.Flows) && t.socksOf == id {
		return
	}
	t.flowsOf, t.socksOf = s.DropTrace.Flows, id
	t.owners = t.index.Owners(s)
	clear(t.packets)
	for fi, si := range t.owners {
		if si < 0 {
			continue
		}
		if t.packets == nil {
			t.packets = map[int]uint64{}
		}
		t.packets[si] += t.flowsOf[fi].Packets
	}
}

// count is the traced drops of socket i.
func (t *tracedDrops) count(i int) uint64 { return t.packets[i] }

// reasons lists socket i's traced drops by reason, most first:
// "SOCKET_RCVBUFF 120, NO_SOCKET 3"; "" when none.
func (t *tracedDrops) reasons(i int) string {
	if t.packets[i] == 0 {
		return ""
	}
	m := map[string]uint64{}
	for fi, si := range t.owners {
		if si == i {
			m[t.flowsOf[fi].Reason] += t.flowsOf[fi].Packets
		}
	}
	if len(m) == 0 {
		return ""
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(names))
	for j, n := range names {
		parts[j] = sanitize(n) + " " + strconv.FormatUint(m[n], 10)
	}
	return strings.Join(parts, ", ")
}
