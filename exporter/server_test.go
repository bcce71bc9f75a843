package exporter

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"netlens/snapshot"
	"netlens/snapshot/snapshottest"
)

func get(t *testing.T, url string, hdr http.Header) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b)
}

func TestHandlerFormats(t *testing.T) {
	srv := httptest.NewServer(Handler(fixed(snapshottest.Full()), Options{Version: "test"}))
	defer srv.Close()
	text := get(t, srv.URL+"/metrics", nil)
	if !strings.Contains(text, `netlens_drops_total{group="Udp",instance="",layer="transport",name="NoPorts",source="/proc/net/snmp"} 25`) {
		t.Errorf("text exposition lacks NoPorts:\n%s", text)
	}
	om := get(t, srv.URL+"/metrics", http.Header{"Accept": {"application/openmetrics-text;version=1.0.0"}})
	if !strings.HasSuffix(om, "# EOF\n") || !strings.Contains(om, "# TYPE netlens_drops counter") {
		t.Errorf("OpenMetrics exposition malformed:\n%.2000s", om)
	}
	js := get(t, srv.URL+"/snapshot", nil)
	snap, err := snapshot.Decode(strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if snap.Host != "web-1" || len(snap.Sockets) != 3 {
		t.Errorf("/snapshot: host %q, %d sockets", snap.Host, len(snap.Sockets))
	}
}

// TestServeTLSBasicAuth: with a web config, /metrics and /snapshot are
// served over TLS only to a client with the password.
func TestServeTLSBasicAuth(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, pool := selfSigned(t)
	os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600)
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	cfg := filepath.Join(dir, "web.yml")
	os.WriteFile(cfg, []byte("tls_server_config:\n  cert_file: "+filepath.Join(dir, "cert.pem")+"\n  key_file: "+filepath.Join(dir, "key.pem")+
		"\nbasic_auth_users:\n  prom: "+string(hash)+"\n"), 0o600)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, Handler(fixed(snapshottest.Full()), Options{}), cfg, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + l.Addr().String()
	for _, tt := range []struct {
		name, path, user, pass string
		want                   int
	}{
		{"no credentials", "/metrics", "", "", 401},
		{"wrong password", "/metrics", "prom", "nope", 401},
		{"metrics", "/metrics", "prom", "s3cret", 200},
		{"snapshot without", "/snapshot", "", "", 401},
		{"snapshot", "/snapshot", "prom", "s3cret", 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", base+tt.path, nil)
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
	// Plain HTTP to the TLS port is refused.
	if resp, err := http.Get("http://" + l.Addr().String() + "/metrics"); err == nil && resp.StatusCode == 200 {
		t.Errorf("plain HTTP served metrics")
	}
}

func TestServeBadWebConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "web.yml")
	os.WriteFile(cfg, []byte("tls_server_config:\n  cert_file: /nonexistent\n"), 0o600)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	err := Serve(context.Background(), l, http.NotFoundHandler(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "--web.config.file") {
		t.Fatalf("err = %v", err)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "netlens-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), pool
}
