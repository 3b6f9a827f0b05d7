package cli_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/cli"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// The no-argument mode starts web, workers and scheduler on the embedded defaults, creates
// the admin from the environment, serves, and stops cleanly on SIGTERM.
func TestAllInOneStartsAndStopsOnSIGTERM(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	env := map[string]string{
		"DATABASE_URL":              "sqlite://" + filepath.Join(dir, "parley.db"),
		"PARLEY_ADDR":               addr,
		"PARLEY_ADMIN_EMAIL":        "admin@example.com",
		"PARLEY_ADMIN_PASSWORD":     "admin-password",
		"PARLEY_WORKER_CONCURRENCY": "7",
	}
	var out, errb syncBuf
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(nil, &cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case code := <-done:
			t.Fatalf("exited early with %d: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("never ready: %s", errb.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	res, err := http.Get("http://" + addr + "/login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), "Log in to Parley") {
		t.Fatalf("the admin exists, so /login shows the form: %d", res.StatusCode)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d: %s", code, errb.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("did not stop on SIGTERM")
	}
	logs := errb.String()
	for _, want := range []string{"migration applied", "first admin created", "in-process Redis", "worker started", "concurrency=7", "scheduler started", "web server listening"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("still serving after SIGTERM")
	}
}
