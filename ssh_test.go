package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sshServer is a real OpenSSH server on 127.0.0.1 with a port, host key
// and authorized key of the test's own.
type sshServer struct {
	port int
	key  string // client private key
	dir  string
}

// testUser is the unprivileged account the SSH tests log in as.
const testUser = "netlens-test"

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, sshd, other users); run as root as CI does")
	}
}

// ensureTestUser creates testUser (with a home and a shell) if missing.
func ensureTestUser(t *testing.T) *user.User {
	t.Helper()
	if _, err := user.Lookup(testUser); err != nil {
		if out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", testUser).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v: %s", err, out)
		}
	}
	// A new account is locked ("!" password), and sshd refuses locked
	// accounts even for key logins: set an unusable but unlocked password.
	if out, err := exec.Command("usermod", "-p", "*", testUser).CombinedOutput(); err != nil {
		t.Fatalf("usermod: %v: %s", err, out)
	}
	u, err := user.Lookup(testUser)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSSHD starts sshd on 127.0.0.1 accepting the test's key for root and
// testUser, and stops it when the test ends.
func startSSHD(t *testing.T) *sshServer {
	t.Helper()
	requireRoot(t)
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/sshd"); err2 != nil {
			t.Skip("openssh-server is not installed (make test-deps installs it)")
		}
		sshd = "/usr/sbin/sshd"
	}
	ensureTestUser(t)
	dir, err := os.MkdirTemp("", "netlens-sshd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	s := &sshServer{port: freePort(t), key: filepath.Join(dir, "client"), dir: dir}
	for _, k := range []string{"host", "client"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub, _ := os.ReadFile(s.key + ".pub")
	os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o644)
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s/host
PidFile %s/sshd.pid
AuthorizedKeysFile %s/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PrintMotd no
PrintLastLog no
AcceptEnv LANG LC_* NO_COLOR COLORTERM
ClientAliveInterval 0
LogLevel ERROR
`, s.port, dir, dir, dir)
	os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o644)
	os.MkdirAll("/run/sshd", 0o755)
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	logf, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("sshd log:\n%s", b)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on port %d: %v", s.port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// sshCommand returns the ssh client command line (for a shell) that logs
// in as login and runs remote with a pty.
func (s *sshServer) sshCommand(login string, env []string, remote string) string {
	args := []string{"ssh", "-tt", "-F", "/dev/null", "-i", s.key, "-p", fmt.Sprint(s.port),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "BatchMode=yes"}
	for _, e := range env {
		args = append(args, "-o", "SetEnv="+e)
	}
	args = append(args, login+"@127.0.0.1", remote)
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

func TestIntegrationSSHLoopback(t *testing.T) {
	s := startSSHD(t)
	for _, login := range []string{"root", testUser} {
		out, err := exec.Command("sh", "-c", s.sshCommand(login, nil, "id -un")+" </dev/null").CombinedOutput()
		if err != nil {
			t.Fatalf("ssh as %s: %v: %s", login, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != login {
			t.Fatalf("ssh as %s ran as %q", login, got)
		}
	}
}
