package xfrm

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"netlens/jsonenc"
	"netlens/model"
	"netlens/ui"
)

// renderIPsecTab renders every view of the TUI's IPsec tab, with its
// detail pane, for a store holding x, at w x h: what an operator could see.
func renderIPsecTab(t *testing.T, x model.IPsec, w, h int) []byte {
	t.Helper()
	st := model.NewStore("h", "k", x.At)
	st.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: Name, State: model.StateOK}})
	st.Publish(model.IPsecUpdate{IPsec: x})
	app := ui.New(st, ui.Options{Now: func() time.Time { return x.At }})
	defer app.Close()
	app.Update(tea.ColorProfileMsg{Profile: colorprofile.ASCII})
	app.Update(tea.WindowSizeMsg{Width: w, Height: h})
	key := func(k string) { app.Update(tea.KeyPressMsg{Code: []rune(k)[0], Text: k}) }
	// The tab's number may change as tabs are added: tab to it.
	for range 20 {
		if strings.Contains(app.View().Content, "SAs (ip -s xfrm state)") {
			break
		}
		app.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	}
	var out bytes.Buffer
	for range 3 { // SAs, policies, xfrm_stat
		out.WriteString(app.View().Content)
		app.Update(tea.KeyPressMsg{Code: tea.KeyEnter}) // the detail pane
		out.WriteString(app.View().Content)
		for range len(x.SAs) + len(x.Policies) {
			key("j")
			out.WriteString(app.View().Content)
		}
		key("v")
	}
	if !strings.Contains(out.String(), "SAs (ip -s xfrm state)") || !strings.Contains(out.String(), "keys are never read") {
		t.Fatalf("the IPsec tab was not found:\n%s", app.View().Content)
	}
	return out.Bytes()
}

// keyForms are the ways a key could show up in text: the raw bytes, hex
// in either case, base64 (encoding/json's []byte) and a prefix of its hex.
func keyForms(k []byte) [][]byte {
	h := hex.EncodeToString(k)
	return [][]byte{k, []byte(h), []byte(strings.ToUpper(h)), []byte(base64.StdEncoding.EncodeToString(k)), []byte(h[:16])}
}

// assertNoKeys fails when any form of a key of keys is in b.
func assertNoKeys(t *testing.T, what string, b []byte, keys [][]byte) {
	t.Helper()
	for _, k := range keys {
		for _, f := range keyForms(k) {
			if bytes.Contains(b, f) {
				t.Errorf("%s holds key material %q", what, f)
			}
		}
	}
}

// TestKeysNeverShown decodes the keyed SA fixtures and checks that neither
// the snapshot JSON nor the IPsec tab, at 80x24 and 120x40, shows a key.
func TestKeysNeverShown(t *testing.T) {
	var x model.IPsec
	x.At = time.Unix(int64(addTime)+10, 0).UTC()
	for _, f := range []string{"sa-esp-aead-tunnel.bin", "sa-esp-cbc-hmac-esn-v6.bin"} {
		sa, err := parseSA(readFixture(t, f))
		if err != nil {
			t.Fatal(err)
		}
		x.SAs = append(x.SAs, sa)
	}
	keys := [][]byte{keyAEAD, keyCrypt, keyAuth}
	assertNoKeys(t, "snapshot JSON", snapshotJSON(t, x), keys)
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		scr := renderIPsecTab(t, x, size[0], size[1])
		if !bytes.Contains(scr, []byte("rfc4106(gcm(aes))")) {
			t.Errorf("%dx%d: the tab does not name the AEAD", size[0], size[1])
		}
		assertNoKeys(t, "the IPsec tab", scr, keys)
	}
}

// snapshotJSON is a snapshot holding x, as netlens snapshot writes it.
func snapshotJSON(t *testing.T, x model.IPsec) []byte {
	t.Helper()
	st := model.NewStore("h", "k", time.Now())
	st.Publish(model.IPsecUpdate{IPsec: x})
	var b bytes.Buffer
	if err := jsonenc.WriteSnapshot(&b, st.Snapshot(), true); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b.Bytes(), []byte(`"ipsec"`)) {
		t.Fatal("no ipsec section in the snapshot")
	}
	return b.Bytes()
}
