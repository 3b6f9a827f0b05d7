package bench_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/bench"
	"github.com/parleyhq/parley/app/cli"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/workers"
)

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080/webhooks/whatsapp", "http://localhost/x", "https://[::1]:9/x", "http://127.0.0.2/"} {
		if err := bench.CheckLoopback(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://example.com/webhooks/whatsapp", "http://10.0.0.1/", "ftp://127.0.0.1/", "http://localhost.example.com/", "127.0.0.1:8080", "http://0.0.0.0/"} {
		if err := bench.CheckLoopback(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	_, err := bench.WhatsApp(context.Background(), bench.WhatsAppOptions{URL: "http://example.com/", Secret: "s", Rate: 1, Duration: time.Second}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("the load tool sent to another machine")
	}
}

// The tool against the real handler and workers, at a small rate: every acknowledged message
// is stored once as an event and once as a message.
func TestWhatsAppBenchInProcess(t *testing.T) {
	cfg := testkit.Config(t)
	cfg.WhatsAppAppSecret = "bench-secret"
	a := testkit.App(t, cfg)
	ctx := context.Background()
	ws, _, err := a.Store.CreateWorkspaceWithUser(ctx, "Bench", "bench@example.com", "x")
	if err != nil {
		t.Fatal(err)
	}
	pid := "555000111"
	if err := a.Store.CreateAssistant(ctx, testkit.Verified(&store.Assistant{WorkspaceID: ws.ID, Name: "Bench", WhatsAppPhoneNumberID: &pid})); err != nil {
		t.Fatal(err)
	}
	srv := web.New(a)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	defer srv.Close()

	h := cli.Handlers(a)
	h.WhatsApp.Service.Replier = nil // ingestion only
	wk := asynq.NewServerFromRedisClient(a.Redis, asynq.Config{Concurrency: 4, Queues: workers.QueuePriorities, Logger: quiet{}})
	if err := wk.Start(workers.NewMux(h)); err != nil {
		t.Fatal(err)
	}
	defer wk.Shutdown()

	var out bytes.Buffer
	res, err := bench.WhatsApp(ctx, bench.WhatsAppOptions{
		URL: hs.URL + "/webhooks/whatsapp", Secret: "bench-secret", PhoneNumberID: pid, Rate: 40, Duration: time.Second, Customers: 7,
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Planned != 40 || res.Sent != 40 || res.OK != 40 || res.ErrorCount() != 0 || len(res.IDs) != 40 || res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
		t.Fatalf("result %+v\n%s", res, out.String())
	}
	if !strings.Contains(out.String(), "achieved rate") || !strings.Contains(out.String(), "p99") {
		t.Fatalf("report:\n%s", out.String())
	}
	c, err := bench.CheckWhatsApp(ctx, a.Store, res.IDs, 30*time.Second, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !c.OK() || c.Events != 40 || c.Messages != 40 {
		t.Fatalf("check %+v\n%s", c, out.String())
	}
	// The check sees what is missing.
	c, err = bench.CheckWhatsApp(ctx, a.Store, append(res.IDs, "wamid.NOT-SENT"), 0, &out)
	if err != nil || c.OK() || c.EventsMissing != 1 || c.MsgMissing != 1 {
		t.Fatalf("check with a missing id: %+v %v", c, err)
	}
	// A wrong secret: every webhook refused, reported as errors.
	res, err = bench.WhatsApp(ctx, bench.WhatsAppOptions{URL: hs.URL + "/webhooks/whatsapp", Secret: "wrong", PhoneNumberID: pid, Rate: 20, Duration: 250 * time.Millisecond}, &out)
	if err != nil || res.OK != 0 || res.Errors["HTTP 401"] != res.Sent || res.Sent == 0 {
		t.Fatalf("wrong secret: %+v %v", res, err)
	}
}

type quiet struct{}

func (quiet) Debug(...any) {}
func (quiet) Info(...any)  {}
func (quiet) Warn(...any)  {}
func (quiet) Error(...any) {}
func (quiet) Fatal(...any) {}
