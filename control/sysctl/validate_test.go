package sysctl

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "net.ipv4.ip_forward", want: "net.ipv4.ip_forward"},
		{in: "net/ipv4/ip_forward", want: "net.ipv4.ip_forward"},
		{in: "net/ipv4/conf/eth0.10/rp_filter", want: "net.ipv4.conf.eth0/10.rp_filter"},
		{in: "net.ipv4.conf.eth0/10.rp_filter", want: "net.ipv4.conf.eth0/10.rp_filter"},
		{in: " /net/core/somaxconn ", want: "net.core.somaxconn"},
		{in: "kernel.panic", err: "only net.*"},
		{in: "net..ipv4", err: "not a sysctl name"},
		{in: "net.ipv4.", err: "not a sysctl name"},
		{in: "net.ipv4.conf./.rp_filter", err: "not a sysctl name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeName(tt.in)
			if tt.err != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("NormalizeName(%q) = %q, %v; want an ErrInvalid with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name, cur, value string
		want             string
		err              string
	}{
		{name: "net.ipv4.ip_forward", cur: "0", value: "1", want: "1"},
		{name: "net.ipv4.ip_forward", cur: "0", value: "2", err: "out of range 0..1 (boolean)"},
		{name: "net.ipv4.conf.eth0.rp_filter", cur: "1", value: "2", want: "2"},
		{name: "net.ipv4.conf.all.rp_filter", cur: "1", value: "3", err: "out of range 0..2"},
		{name: "net.ipv4.tcp_keepalive_time", cur: "7200", value: " 600 ", want: "600"},
		{name: "net.ipv4.tcp_keepalive_time", cur: "7200", value: "99999", err: "out of range 1..32767 (MAX_TCP_KEEPIDLE)"},
		{name: "net.ipv4.tcp_keepalive_time", cur: "7200", value: "ten", err: `"ten" is not an integer`},
		{name: "net.ipv4.tcp_keepalive_time", cur: "7200", value: "", err: "empty value"},
		{name: "net.ipv4.ip_local_port_range", cur: "32768\t60999", value: "1024  65000", want: "1024 65000"},
		{name: "net.ipv4.ip_local_port_range", cur: "32768\t60999", value: "65000 1024", err: "must not decrease"},
		{name: "net.ipv4.ip_local_port_range", cur: "32768\t60999", value: "1024", err: "takes 2 integers"},
		{name: "net.ipv4.ip_local_port_range", cur: "32768\t60999", value: "0 100", err: "out of range 1..65535"},
		{name: "net.ipv4.tcp_rmem", cur: "4096\t131072\t6291456", value: "4096 262144 6291456", want: "4096 262144 6291456"},
		// Shape only: an unknown integer, an unknown vector, a word.
		{name: "net.ipv4.tcp_reordering", cur: "3", value: "5", want: "5"},
		{name: "net.ipv4.tcp_reordering", cur: "3", value: "5 6", err: "takes an integer"},
		{name: "net.ipv4.tcp_reordering", cur: "3", value: "4294967296", err: "out of the kernel's int range"},
		{name: "net.ipv4.ping_group_range", cur: "1\t0", value: "0 100", want: "0 100"},
		{name: "net.ipv4.tcp_congestion_control", cur: "cubic", value: "bbr", want: "bbr"},
		{name: "net.ipv4.tcp_congestion_control", cur: "cubic", value: "bb\x01r", err: "control character"},
		{name: "net.ipv4.tcp_congestion_control", cur: "cubic", value: strings.Repeat("x", 300), err: "longer than 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			got, err := Validate(tt.name, tt.cur, tt.value)
			if tt.err != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Validate = %q, %v; want an ErrInvalid with %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzValidate(f *testing.F) {
	f.Add("net.ipv4.ip_local_port_range", "32768\t60999", "1024 65000")
	f.Add("net.ipv4.tcp_keepalive_time", "7200", "600")
	f.Add("net.ipv4.tcp_congestion_control", "cubic", "bbr")
	f.Fuzz(func(t *testing.T, name, cur, value string) {
		got, err := Validate(name, cur, value)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		// A valid value is normalised: validating it again gives it back.
		again, err := Validate(name, cur, got)
		if err != nil || again != got {
			t.Fatalf("Validate(%q) = %q, then %q, %v", value, got, again, err)
		}
	})
}

// FuzzNormalizeName: a name accepted never leads out of /proc/sys/net.
func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"net.ipv4.ip_forward", "net/ipv4/conf/eth0.10/rp_filter", "net.a//.b", "net/../x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n, err := NormalizeName(name)
		if err != nil {
			return
		}
		p := procPath("/proc/sys", n)
		for _, seg := range strings.Split(p, "/")[1:] {
			if seg == ".." || seg == "." || seg == "" {
				t.Fatalf("NormalizeName(%q) = %q: path %q has segment %q", name, n, p, seg)
			}
		}
		if !strings.HasPrefix(p, "/proc/sys/net/") {
			t.Fatalf("path %q outside /proc/sys/net", p)
		}
	})
}
