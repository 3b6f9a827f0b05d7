package widget_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/app/web/webtest"
)

// BenchmarkWidgetLoad measures widget messages per second and their latency through the
// public API, over real HTTP, with the offline provider answering without its word delay. It
// is a load run, not a per-op benchmark: it runs once whatever b.N is, and reports in the log.
// BENCHMARKS.md quotes it:
//
//	DATABASE_URL=postgres://... REDIS_URL=redis://... \
//	  go test ./app/web/ -run xxx -bench WidgetLoad -benchtime 1x -v
//
// PARLEY_BENCH_MESSAGES (default 4000), PARLEY_BENCH_CLIENTS (default 32) and
// PARLEY_BENCH_SESSIONS (default 256) change the load. Each client is one visitor at a time:
// it sends a message and waits for the whole reply before the next one.
func BenchmarkWidgetLoad(b *testing.B) {
	var t testing.TB = b
	envInt := func(k string, def int) int {
		if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n > 0 {
			return n
		}
		return def
	}
	total, clients, sessions := envInt("PARLEY_BENCH_MESSAGES", 4000), envInt("PARLEY_BENCH_CLIENTS", 32), envInt("PARLEY_BENCH_SESSIONS", 256)

	a0 := testkit.App(t, testkit.Config(t))
	a0.Chat.LLM = llm.NewOffline(llm.OfflineOptions{DefaultModel: a0.Config.LLMModel})
	a0.Config.WidgetRateSessions, a0.Config.WidgetRateMessages = 1000000, 1000000
	srv := web.New(a0)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close)
	e := &env{&webtest.Env{T: b, App: a0, Srv: ts, URL: ts.URL}}
	ws := e.User("bench@example.com", "correct-horse")
	as := e.WAssistant(ws, webtest.WOrigin)

	client := &http.Client{Transport: &http.Transport{MaxIdleConns: clients * 2, MaxIdleConnsPerHost: clients * 2}}
	type sess struct{ id, tok string }
	ss := make([]sess, sessions)
	start := time.Now()
	for i := range ss {
		id, tok := e.WSession(as, fmt.Sprintf("bench-visitor-%05d", i))
		ss[i] = sess{id, tok}
	}
	sessDur := time.Since(start)

	run := func(mode string, total int) (time.Duration, []time.Duration) {
		var mu sync.Mutex
		var lat []time.Duration
		jobs := make(chan int)
		var wg sync.WaitGroup
		errc := make(chan error, clients)
		begin := time.Now()
		for w := range clients {
			wg.Go(func() {
				for j := range jobs {
					// Each client keeps to its own visitors: one message at a time per conversation.
					s := ss[(w+clients*j)%len(ss)]
					body := `{"text":"Hello, message ` + strconv.Itoa(j) + ` about an order"}`
					req, _ := http.NewRequest("POST", e.URL+"/api/widget/v1/sessions/"+s.id+"/messages", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+s.tok)
					if mode == "sse" {
						req.Header.Set("Accept", "text/event-stream")
					}
					t0 := time.Now()
					res, err := client.Do(req)
					if err != nil {
						errc <- err
						return
					}
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					d := time.Since(t0)
					if res.StatusCode != 200 || (mode == "sse" && !strings.Contains(string(b), "event: done")) {
						errc <- fmt.Errorf("%d %s", res.StatusCode, b)
						return
					}
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			})
		}
		for j := range total / clients {
			for range clients {
				jobs <- j
			}
		}
		close(jobs)
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		return time.Since(begin), lat
	}
	pct := func(ds []time.Duration, p float64) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	t.Logf("database %s, redis %s; %d sessions created in %s (%.0f/s)", a0.Store.Dialect, a0.Config.RedisURL, sessions, sessDur.Round(time.Millisecond), float64(sessions)/sessDur.Seconds())
	t.Logf("| mode | clients | messages | msgs/s | p50 | p95 | p99 | max |")
	run("json", clients*5) // warm up: connections, the tokenizer, the database's caches
	for _, mode := range []string{"json", "sse"} {
		dur, lat := run(mode, total)
		t.Logf("| %s | %d | %d | %.0f | %s | %s | %s | %s |", mode, clients, len(lat), float64(len(lat))/dur.Seconds(),
			pct(lat, 0.50).Round(10*time.Microsecond), pct(lat, 0.95).Round(10*time.Microsecond), pct(lat, 0.99).Round(10*time.Microsecond), pct(lat, 1).Round(10*time.Microsecond))
	}
}
