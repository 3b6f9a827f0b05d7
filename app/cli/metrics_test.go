package cli_test

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/cli"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// A worker process has no web address: PARLEY_METRICS_ADDR is how it is scraped, without a
// token; the listener stops with the role.
func TestWorkerRoleServesMetricsOnItsOwnAddress(t *testing.T) {
	metricsAddr := freeAddr(t)
	env := map[string]string{
		"DATABASE_URL":        "sqlite://" + filepath.Join(t.TempDir(), "parley.db"),
		"PARLEY_METRICS_ADDR": metricsAddr,
	}
	var out, errb syncBuf
	done := make(chan int, 1)
	go func() {
		done <- cli.Run([]string{"worker"}, &cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
	}()
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get("http://" + metricsAddr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("metrics: %d %s", res.StatusCode, b)
			}
			body = string(b)
			break
		}
		select {
		case code := <-done:
			t.Fatalf("exited early with %d: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never served: %s", errb.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []string{`parley_queue_tasks{queue="critical",state="pending"} 0`, `parley_whatsapp_windows_total{event="closed"} 0`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("worker metrics lack %q", want)
		}
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
	if !strings.Contains(errb.String(), "metrics listening") || !strings.Contains(errb.String(), "worker started") {
		t.Errorf("logs: %s", errb.String())
	}
	if _, err := http.Get("http://" + metricsAddr + "/metrics"); err == nil {
		t.Fatal("still serving metrics after SIGTERM")
	}
}
