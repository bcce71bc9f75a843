package kmod

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
)

// TestGetWithGenltest runs Get against genltest's fake generic netlink,
// which also checks the family, command and flags of the request.
func TestGetWithGenltest(t *testing.T) {
	fam := genetlink.Family{ID: testFamilyID, Name: familyName, Version: familyVersion,
		Groups: []genetlink.MulticastGroup{{ID: 9, Name: groupEvents}}}
	want := Rule{ID: 7, Hooks: HookLocalIn, Family: FamilyBoth, Proto: 17, DstPorts: PortRange{53, 53},
		Action: ActionCount, Label: "dns", Packets: 3, Bytes: 180}
	fn := genltest.CheckRequest(testFamilyID, uint8(cmdGet), netlink.Request,
		func(greq genetlink.Message, _ netlink.Message) ([]genetlink.Message, error) {
			ad, err := netlink.NewAttributeDecoder(greq.Data)
			if err != nil {
				t.Fatal(err)
			}
			for ad.Next() {
				if attr(ad.Type()) == attrRuleID && ad.Uint32() != 7 {
					t.Errorf("rule id %d, want 7", ad.Uint32())
				}
			}
			ae := netlink.NewAttributeEncoder()
			encodeFull(ae, want)
			b, err := ae.Encode()
			if err != nil {
				t.Fatal(err)
			}
			return []genetlink.Message{{Header: genetlink.Header{Command: uint8(cmdGet), Version: 1}, Data: b}}, nil
		})
	c, err := newClient(genltest.Dial(genltest.ServeFamily(fam, fn)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.Get(7)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("rule (-want +got):\n%s", diff)
	}
}
