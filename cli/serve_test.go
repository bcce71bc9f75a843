package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeBadWebConfig: a web configuration that cannot be used fails
// serve (exit 1, the file and the reason named) before any collector
// runs and before serve says it is listening.
func TestServeBadWebConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct{ name, file, reason string }{
		{"missing", filepath.Join(dir, "nonexistent.yml"), "no such file"},
		{"not yaml", write("bad.yml", "bogus: ["), "yaml"},
		{"missing cert", write("tls.yml", "tls_server_config: {cert_file: /nonexistent.crt, key_file: /nonexistent.key}\n"), "cert_file"},
		{"password not bcrypt", write("auth.yml", "basic_auth_users: {admin: notabcrypt}\n"), "bcrypt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := NewRoot("test")
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs([]string{"serve", "--listen", "127.0.0.1:0", "--filter-backend", "none", "--drop-source", "counters", "--web.config.file", tt.file})
			err := root.ExecuteContext(context.Background())
			if code := ExitCode(err); code != 1 || !strings.Contains(err.Error(), tt.file) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("exit %d (%v), want 1 naming %s and %q", code, err, tt.file, tt.reason)
			}
			if strings.Contains(out.String(), "listening") || strings.Contains(out.String(), "cannot run") {
				t.Errorf("serve said it was listening or ran its collectors before refusing its web configuration:\n%s", out.String())
			}
		})
	}
}

// TestListenNetwork: an IPv4 --listen address binds IPv4 alone; Go's
// "tcp" would bind 0.0.0.0 as a dual-stack [::] and expose the metrics
// over IPv6 as well.
func TestListenNetwork(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"127.0.0.1:9347", "tcp4"},
		{"0.0.0.0:9347", "tcp4"},
		{"[::]:9347", "tcp"},
		{"[::1]:9347", "tcp"},
		{":9347", "tcp"},
		{"localhost:9347", "tcp"},
		{"no port", "tcp"},
	} {
		if got := listenNetwork(tt.addr); got != tt.want {
			t.Errorf("listenNetwork(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
	// The wildcard, bound (no traffic): the address is IPv4's, not [::].
	l, err := net.Listen(listenNetwork("0.0.0.0:0"), "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if a := l.Addr().(*net.TCPAddr); a.IP.To4() == nil || !a.IP.IsUnspecified() {
		t.Errorf("--listen 0.0.0.0:0 bound %v, want 0.0.0.0", a)
	}
}
