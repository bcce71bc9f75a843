package ruleset

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/collectors/internal/rtnl"
)

// nf_tables netlink attributes golang.org/x/sys/unix does not have
// (include/uapi/linux/netfilter/nf_tables.h).
const (
	nftaTableHandle = 4    // NFTA_TABLE_HANDLE, NLA_U64
	nftaSetHandle   = 16   // NFTA_SET_HANDLE, NLA_U64
	nftSetConcat    = 0x80 // NFT_SET_CONCAT
)

// setKey identifies a set for as long as the namespace lives: a table's
// handle is never given to another table (a table deleted and made again
// has a new one), a set's handle never to another set of its table. Its
// name is no identity: nft names anonymous sets __set0, __set1... and a
// name freed by a deleted rule is given to the next rule's set.
type setKey struct {
	table uint64 // NFTA_TABLE_HANDLE
	set   uint64 // NFTA_SET_HANDLE
}

// tableKey is a table as rules name it.
type tableKey struct {
	family nftables.TableFamily
	name   string
}

// anonSet is an anonymous set of the namespace's ruleset as listed.
type anonSet struct {
	key setKey
	set *nftables.Set
}

// setCache keeps the elements of the anonymous sets a collector's rules
// name from one Read to the next. An anonymous set cannot change once a
// rule is bound to it (the kernel refuses elements for it, EBUSY), and
// only a bound one outlives its transaction: the elements fetched for a
// set's handle stay its elements while it exists, and its handle is
// never another's. (nft makes no anonymous set whose elements time out
// or that rules add to; were there one, its elements are fetched each
// Read.)
//
// What rules name is a set's name, so each Read maps names to handles:
// when the ruleset's generation (NFT_MSG_GETGEN, which every commit
// moves on) is the one the map was listed at, nothing has changed and
// the map stands; otherwise the namespace's tables and sets are listed
// again (one dump each), a set seen before keeps its elements, a new one
// is fetched when a rule first names it, and a set no longer listed is
// forgotten. The generation is read before the listing, so a change made
// while listing is seen by the next Read.
//
// A setCache is not safe for concurrent use; the collector's reads hold
// its lock.
type setCache struct {
	at     uint32 // the generation index was listed at
	listed bool   // index is that generation's
	index  map[tableKey]map[string]anonSet
	elems  map[setKey][]nftables.SetElement

	// gen, list and fetch reach the kernel; tests replace them.
	gen   func(netns int) (uint32, error)
	list  func(netns int) (gen uint32, index map[tableKey]map[string]anonSet, err error)
	fetch func(conn *nftables.Conn, s *nftables.Set) ([]nftables.SetElement, error)

	// fetches counts the element fetches, and lists the listings, since
	// the cache was made.
	fetches, lists int
}

func newSetCache() *setCache {
	return &setCache{
		elems: map[setKey][]nftables.SetElement{},
		gen:   readGen,
		list:  listAnonSets,
		fetch: func(conn *nftables.Conn, s *nftables.Set) ([]nftables.SetElement, error) {
			return conn.GetSetElements(s)
		},
	}
}

// setRead is the cache's part in one Read.
type setRead struct {
	c      *setCache
	netns  int
	conn   *nftables.Conn
	synced bool            // the index was checked against the generation
	failed map[setKey]bool // sets whose elements did not come, this Read
	// local holds, for this Read, the elements of sets not kept across
	// Reads.
	local map[setKey][]nftables.SetElement
}

// begin starts a Read of namespace netns over conn; nothing reaches the
// kernel until a rule names an anonymous set.
func (c *setCache) begin(netns int, conn *nftables.Conn) *setRead {
	return &setRead{c: c, netns: netns, conn: conn, failed: map[setKey]bool{}}
}

// sync brings the index to the ruleset's generation, once a Read, and
// forgets the elements of sets no longer listed. When the generation or
// the listing cannot be read, no set is known this Read (rules name them,
// @__set0) and the next Read lists again.
func (r *setRead) sync() {
	if r.synced {
		return
	}
	r.synced = true
	c := r.c
	if c.listed {
		if gen, err := c.gen(r.netns); err == nil && gen == c.at {
			return
		}
	}
	c.listed, c.index = false, nil
	gen, index, err := c.list(r.netns)
	c.lists++
	if err != nil {
		return
	}
	c.at, c.index, c.listed = gen, index, true
	live := map[setKey]bool{}
	for _, sets := range index {
		for _, s := range sets {
			live[s.key] = true
		}
	}
	for k := range c.elems {
		if !live[k] {
			delete(c.elems, k)
		}
	}
}

// sets is the Read's Sets for the rules of table tb.
func (r *setRead) sets(tb *nftables.Table) Sets {
	return func(name string) (*nftables.Set, []nftables.SetElement, bool) {
		if !strings.HasPrefix(name, "__") {
			// A named set: nft names it (@blocklist), there is nothing to fetch.
			return nil, nil, false
		}
		r.sync()
		s, ok := r.c.index[tableKey{tb.Family, tb.Name}][name]
		if !ok || r.failed[s.key] {
			return nil, nil, false
		}
		els, ok := r.c.elems[s.key]
		if !ok {
			els, ok = r.local[s.key]
		}
		if !ok {
			var err error
			r.c.fetches++
			if els, err = r.c.fetch(r.conn, s.set); err != nil {
				r.failed[s.key] = true
				return nil, nil, false
			}
			if s.set.HasTimeout || s.set.Dynamic {
				// Elements that time out or that the packet path
				// adds change under a bound set: fetched each Read.
				if r.local == nil {
					r.local = map[setKey][]nftables.SetElement{}
				}
				r.local[s.key] = els
			} else {
				r.c.elems[s.key] = els
			}
		}
		return s.set, els, true
	}
}

// nfgenmsg is struct nfgenmsg for family: NFNETLINK_V0, resource id 0.
func nfgenmsg(family uint8) []byte { return []byte{family, unix.NFNETLINK_V0, 0, 0} }

func nftMsg(typ int) netlink.HeaderType {
	return netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | typ)
}

// dialNFT opens an nf_tables netlink socket in namespace netns (0: the
// caller's).
func dialNFT(netns int) (*netlink.Conn, error) {
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netns})
	if err != nil {
		return nil, err
	}
	_ = conn.SetOption(netlink.ExtendedAcknowledge, true)
	return conn, nil
}

// readGen reads the ruleset's generation (NFT_MSG_GETGEN): every commit
// to the namespace's ruleset moves it on.
func readGen(netns int) (uint32, error) {
	conn, err := dialNFT(netns)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return getGen(conn)
}

func getGen(conn *netlink.Conn) (uint32, error) {
	// No NLM_F_ACK: the reply is the generation or an error, and an
	// acknowledgement after it would be read as the next request's reply.
	msgs, err := conn.Execute(netlink.Message{
		Header: netlink.Header{Type: nftMsg(unix.NFT_MSG_GETGEN), Flags: netlink.Request},
		Data:   nfgenmsg(unix.AF_UNSPEC),
	})
	if err != nil {
		return 0, fmt.Errorf("NFT_MSG_GETGEN: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Type != nftMsg(unix.NFT_MSG_NEWGEN) || len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return 0, fmt.Errorf("NFT_MSG_NEWGEN: %w", err)
		}
		ad.ByteOrder = binary.BigEndian
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID {
				return ad.Uint32(), nil
			}
		}
		if err := ad.Err(); err != nil {
			return 0, fmt.Errorf("NFT_MSG_NEWGEN: %w", err)
		}
	}
	return 0, fmt.Errorf("NFT_MSG_GETGEN: no NFTA_GEN_ID in the reply")
}

// listAnonSets reads the generation, then lists every table and every
// anonymous set of namespace netns (an NFT_MSG_GETTABLE and an
// NFT_MSG_GETSET dump of all families, each redone while the kernel flags
// it interrupted): the sets by table and name, each with its handles.
func listAnonSets(netns int) (uint32, map[tableKey]map[string]anonSet, error) {
	conn, err := dialNFT(netns)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	gen, err := getGen(conn)
	if err != nil {
		return 0, nil, err
	}
	tables := map[tableKey]uint64{}
	_, err = rtnl.Dump(conn, netlink.Message{
		Header: netlink.Header{Type: nftMsg(unix.NFT_MSG_GETTABLE), Flags: netlink.Request | netlink.Dump},
		Data:   nfgenmsg(unix.AF_UNSPEC),
	}, func(m netlink.Message) error {
		if m.Header.Type != nftMsg(unix.NFT_MSG_NEWTABLE) {
			return nil
		}
		k, h, err := parseTable(m.Data)
		if err == nil {
			tables[k] = h
		}
		return err
	})
	if err != nil {
		return 0, nil, fmt.Errorf("NFT_MSG_GETTABLE: %w", err)
	}
	index := map[tableKey]map[string]anonSet{}
	_, err = rtnl.Dump(conn, netlink.Message{
		Header: netlink.Header{Type: nftMsg(unix.NFT_MSG_GETSET), Flags: netlink.Request | netlink.Dump},
		Data:   nfgenmsg(unix.AF_UNSPEC),
	}, func(m netlink.Message) error {
		if m.Header.Type != nftMsg(unix.NFT_MSG_NEWSET) {
			return nil
		}
		tk, s, handle, err := parseSet(m.Data)
		if err != nil || !s.Anonymous {
			return err
		}
		th, ok := tables[tk]
		if !ok {
			return nil // a table made after the table listing: next Read
		}
		if index[tk] == nil {
			index[tk] = map[string]anonSet{}
		}
		index[tk][s.Name] = anonSet{setKey{th, handle}, s}
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("NFT_MSG_GETSET: %w", err)
	}
	return gen, index, nil
}

// parseTable decodes an NFT_MSG_NEWTABLE message's payload: the table
// and its handle.
func parseTable(b []byte) (tableKey, uint64, error) {
	if len(b) < 4 {
		return tableKey{}, 0, fmt.Errorf("NFT_MSG_NEWTABLE of %d bytes", len(b))
	}
	k := tableKey{family: nftables.TableFamily(b[0])}
	ad, err := netlink.NewAttributeDecoder(b[4:])
	if err != nil {
		return k, 0, err
	}
	ad.ByteOrder = binary.BigEndian
	var handle uint64
	var has bool
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_TABLE_NAME:
			k.name = ad.String()
		case nftaTableHandle:
			handle, has = ad.Uint64(), true
		}
	}
	if err := ad.Err(); err != nil {
		return k, 0, fmt.Errorf("table %s: %w", k.name, err)
	}
	if !has || k.name == "" {
		return k, 0, fmt.Errorf("table %q without a name or a handle", k.name)
	}
	return k, handle, nil
}

// parseSet decodes an NFT_MSG_NEWSET message's payload: the set's table,
// the set as far as rendering and fetching its elements need (name,
// table, flags), and its handle. It does not decode the key's type, so no
// type makes a set unknown.
func parseSet(b []byte) (tableKey, *nftables.Set, uint64, error) {
	if len(b) < 4 {
		return tableKey{}, nil, 0, fmt.Errorf("NFT_MSG_NEWSET of %d bytes", len(b))
	}
	tk := tableKey{family: nftables.TableFamily(b[0])}
	ad, err := netlink.NewAttributeDecoder(b[4:])
	if err != nil {
		return tk, nil, 0, err
	}
	ad.ByteOrder = binary.BigEndian
	s := &nftables.Set{}
	var handle uint64
	var has bool
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_SET_TABLE:
			tk.name = ad.String()
		case unix.NFTA_SET_NAME:
			s.Name = ad.String()
		case unix.NFTA_SET_FLAGS:
			fl := ad.Uint32()
			s.Anonymous = fl&unix.NFT_SET_ANONYMOUS != 0
			s.Constant = fl&unix.NFT_SET_CONSTANT != 0
			s.Interval = fl&unix.NFT_SET_INTERVAL != 0
			s.IsMap = fl&unix.NFT_SET_MAP != 0
			s.Concatenation = fl&nftSetConcat != 0
			s.HasTimeout = fl&unix.NFT_SET_TIMEOUT != 0
			s.Dynamic = fl&unix.NFT_SET_EVAL != 0
		case nftaSetHandle:
			handle, has = ad.Uint64(), true
		}
	}
	if err := ad.Err(); err != nil {
		return tk, nil, 0, fmt.Errorf("set %s: %w", s.Name, err)
	}
	if !has || s.Name == "" || tk.name == "" {
		return tk, nil, 0, fmt.Errorf("set %q of table %q without a name or a handle", s.Name, tk.name)
	}
	s.Table = &nftables.Table{Name: tk.name, Family: tk.family}
	return tk, s, handle, nil
}
