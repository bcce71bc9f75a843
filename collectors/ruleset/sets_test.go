package ruleset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
)

// fakeRuleset is the kernel as a setCache sees it: a generation, the
// anonymous sets by table and name with their handles, and each set's
// elements by handle.
type fakeRuleset struct {
	gen      uint32
	index    map[tableKey]map[string]anonSet
	elems    map[setKey]string // one element each, its key as text
	listErr  error
	fetchErr map[setKey]bool
}

func (k *fakeRuleset) cache() *setCache {
	c := newSetCache()
	c.gen = func(int) (uint32, error) { return k.gen, nil }
	c.list = func(int) (uint32, map[tableKey]map[string]anonSet, error) {
		if k.listErr != nil {
			return 0, nil, k.listErr
		}
		// A copy: the cache keeps it while the test changes k.
		index := map[tableKey]map[string]anonSet{}
		for t, sets := range k.index {
			index[t] = map[string]anonSet{}
			for n, s := range sets {
				index[t][n] = s
			}
		}
		return k.gen, index, nil
	}
	c.fetch = func(_ *nftables.Conn, s *nftables.Set) ([]nftables.SetElement, error) {
		for _, sets := range k.index {
			if a, ok := sets[s.Name]; ok && a.set == s {
				if k.fetchErr[a.key] {
					return nil, errors.New("undecodable")
				}
				return []nftables.SetElement{{Key: []byte(k.elems[a.key])}}, nil
			}
		}
		return nil, errors.New("no such set")
	}
	return c
}

// set puts an anonymous set named name in table tb (handle th) with
// handle h and one element.
func (k *fakeRuleset) set(tb tableKey, th uint64, name string, h uint64, elem string, dynamic bool) {
	if k.index == nil {
		k.index, k.elems = map[tableKey]map[string]anonSet{}, map[setKey]string{}
	}
	if k.index[tb] == nil {
		k.index[tb] = map[string]anonSet{}
	}
	key := setKey{th, h}
	k.index[tb][name] = anonSet{key, &nftables.Set{Name: name, Anonymous: true, Dynamic: dynamic, Table: &nftables.Table{Name: tb.name, Family: tb.family}}}
	k.elems[key] = elem
}

// TestSetCache follows the cache through Reads of a changing ruleset:
// what each Read's rules see of each set name, and how many listings and
// element fetches the Reads took in all.
func TestSetCache(t *testing.T) {
	fw := tableKey{nftables.TableFamilyINet, "fw"}
	k := &fakeRuleset{gen: 1}
	k.set(fw, 1, "__set0", 10, "22,80", false)
	k.set(fw, 1, "__set1", 11, "10.0.0.0/8", false)
	c := k.cache()
	tb := &nftables.Table{Name: "fw", Family: nftables.TableFamilyINet}

	steps := []struct {
		name          string
		change        func()
		ask           []string // set names, as a Read's rules name them
		want          []string // each one's element, "" unknown
		lists, fetchs int      // in all, after the step
	}{
		{"first read fetches each set once", nil,
			[]string{"__set0", "__set1", "__set0", "blocklist"}, []string{"22,80", "10.0.0.0/8", "22,80", ""}, 1, 2},
		{"same generation: no listing, no fetch", nil,
			[]string{"__set0", "__set1"}, []string{"22,80", "10.0.0.0/8"}, 1, 2},
		{"a commit elsewhere: listed again, nothing fetched", func() { k.gen++ },
			[]string{"__set0", "__set1"}, []string{"22,80", "10.0.0.0/8"}, 2, 2},
		{"rule replaced: its name given to a new set", func() {
			k.gen++
			k.set(fw, 1, "__set0", 12, "443,8443", false)
		}, []string{"__set0", "__set1"}, []string{"443,8443", "10.0.0.0/8"}, 3, 3},
		{"table made again: handles start over, same names", func() {
			k.gen++
			k.index = nil
			k.set(fw, 2, "__set0", 10, "53", false)
			k.set(fw, 2, "__set1", 11, "192.0.2.0/24", false)
		}, []string{"__set0", "__set1"}, []string{"53", "192.0.2.0/24"}, 4, 5},
		{"a set that does not come is unknown, asked again next read", func() {
			k.gen++
			k.set(fw, 2, "__set2", 13, "x", false)
			k.fetchErr = map[setKey]bool{{2, 13}: true}
		}, []string{"__set2", "__set2"}, []string{"", ""}, 5, 6},
		{"then comes", func() { k.fetchErr = nil },
			[]string{"__set2", "__set0"}, []string{"x", "53"}, 5, 7},
		{"a listing that fails: no set known", func() { k.gen++; k.listErr = errors.New("EPERM") },
			[]string{"__set0"}, []string{""}, 6, 7},
		{"listed again next read, elements kept", func() { k.listErr = nil },
			[]string{"__set0"}, []string{"53"}, 7, 7},
		{"a set rules add to is fetched each read", func() {
			k.gen++
			k.set(fw, 2, "__set3", 14, "dyn", true)
		}, []string{"__set3", "__set3"}, []string{"dyn", "dyn"}, 8, 8},
		{"and again the next", nil, []string{"__set3", "__set0"}, []string{"dyn", "53"}, 8, 9},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.change != nil {
				st.change()
			}
			r := c.begin(0, nil)
			lookup := r.sets(tb)
			var got []string
			for _, name := range st.ask {
				s, els, ok := lookup(name)
				switch {
				case !ok:
					got = append(got, "")
				case s == nil || len(els) != 1:
					got = append(got, fmt.Sprintf("bad: %v %v", s, els))
				default:
					got = append(got, string(els[0].Key))
				}
			}
			if diff := cmp.Diff(st.want, got); diff != "" {
				t.Errorf("elements (-want +got):\n%s", diff)
			}
			if c.lists != st.lists || c.fetches != st.fetchs {
				t.Errorf("%d listings, %d fetches; want %d, %d", c.lists, c.fetches, st.lists, st.fetchs)
			}
		})
	}
	// Only the sets still listed are kept.
	for key := range c.elems {
		if key.table != 2 {
			t.Errorf("elements of set %v kept after its table went", key)
		}
	}
}

// TestSetCacheNoSets: a Read whose rules name no anonymous set asks the
// kernel nothing.
func TestSetCacheNoSets(t *testing.T) {
	k := &fakeRuleset{gen: 1}
	c := k.cache()
	c.gen = func(int) (uint32, error) { t.Error("generation read"); return 0, nil }
	r := c.begin(0, nil)
	if _, _, ok := r.sets(&nftables.Table{Name: "fw"})("blocklist"); ok {
		t.Error("a named set known")
	}
	if c.lists != 0 || c.fetches != 0 {
		t.Errorf("%d listings, %d fetches", c.lists, c.fetches)
	}
}

// TestParseSet decodes NFT_MSG_NEWSET payloads as the kernel writes them
// (struct nfgenmsg, then big-endian attributes).
func TestParseSet(t *testing.T) {
	msg := func(family byte, attrs ...netlink.Attribute) []byte {
		b, err := netlink.MarshalAttributes(attrs)
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte{family, 0, 0, 0}, b...)
	}
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	u64 := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	str := func(s string) []byte { return append([]byte(s), 0) }
	tests := []struct {
		name   string
		in     []byte
		table  tableKey
		set    *nftables.Set
		handle uint64
		err    bool
	}{
		{"anonymous interval", msg(1, netlink.Attribute{Type: 1, Data: str("fw")}, netlink.Attribute{Type: 2, Data: str("__set3")},
			netlink.Attribute{Type: 3, Data: u32(0x1 | 0x2 | 0x4)}, netlink.Attribute{Type: 4, Data: u32(7)},
			netlink.Attribute{Type: 16, Data: u64(42)}),
			tableKey{nftables.TableFamilyINet, "fw"},
			&nftables.Set{Name: "__set3", Anonymous: true, Constant: true, Interval: true, Table: &nftables.Table{Name: "fw", Family: nftables.TableFamilyINet}},
			42, false},
		{"map of a concatenation, an unknown key type", msg(2, netlink.Attribute{Type: 1, Data: str("nat")}, netlink.Attribute{Type: 2, Data: str("__map0")},
			netlink.Attribute{Type: 3, Data: u32(0x1 | 0x8 | 0x80)}, netlink.Attribute{Type: 4, Data: u32(0xfffffff)},
			netlink.Attribute{Type: 16, Data: u64(1)}),
			tableKey{nftables.TableFamilyIPv4, "nat"},
			&nftables.Set{Name: "__map0", Anonymous: true, IsMap: true, Concatenation: true, Table: &nftables.Table{Name: "nat", Family: nftables.TableFamilyIPv4}},
			1, false},
		{"no handle", msg(1, netlink.Attribute{Type: 1, Data: str("fw")}, netlink.Attribute{Type: 2, Data: str("s")}), tableKey{}, nil, 0, true},
		{"short", []byte{1, 0}, tableKey{}, nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk, s, h, err := parseSet(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("error %v, want one: %v", err, tt.err)
			}
			if tt.err {
				return
			}
			if diff := cmp.Diff(tt.table, tk, cmp.AllowUnexported(tableKey{})); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.set, s, cmpopts.IgnoreUnexported(nftables.Set{}, nftables.Table{}, nftables.SetDatatype{})); diff != "" {
				t.Errorf("set (-want +got):\n%s", diff)
			}
			if h != tt.handle {
				t.Errorf("handle %d, want %d", h, tt.handle)
			}
		})
	}
	// A table: its family, name and handle.
	tk, h, err := parseTable(msg(3, netlink.Attribute{Type: 1, Data: str("filter")}, netlink.Attribute{Type: 4, Data: u64(9)}))
	if err != nil || tk != (tableKey{nftables.TableFamilyARP, "filter"}) || h != 9 {
		t.Errorf("parseTable: %v %d %v", tk, h, err)
	}
}
