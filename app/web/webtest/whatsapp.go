package webtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/inbound"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/workers"
)

// The WhatsApp configuration of WhEnv and the phone number id of app/whatsapp's fixtures.
const (
	WhSecret  = "wh-app-secret"
	WhVerify  = "wh-verify-token"
	WhPhoneID = "106540352242922"
)

// WhEnv is a server with WhatsApp configured, on the given configuration.
func WhEnv(t *testing.T, cfg *config.Config) *Env {
	t.Helper()
	cfg.WhatsAppAppSecret = WhSecret
	cfg.WhatsAppVerifyToken = WhVerify
	return NewWith(t, cfg)
}

// WhFixture is one of app/whatsapp's webhook fixtures (app/whatsapp/testdata).
func WhFixture(t *testing.T, name string) []byte {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "whatsapp", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// WhPost posts body with the given signature header ("" leaves it out).
func WhPost(t *testing.T, e *Env, body []byte, sig string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/webhooks/whatsapp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(whatsapp.SignatureHeader, sig)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// WhSigned posts body signed with WhSecret and returns the status.
func WhSigned(t *testing.T, e *Env, body []byte) int {
	t.Helper()
	code, _ := WhPost(t, e, body, whatsapp.Sign(WhSecret, body))
	return code
}

// WhPending is the pending tasks of the critical queue (inbound processing).
func WhPending(t *testing.T, a *app.App) []*asynq.TaskInfo {
	t.Helper()
	tis, err := asynq.NewInspectorFromRedisClient(a.Redis).ListPendingTasks(workers.QueueCritical)
	if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
		t.Fatal(err)
	}
	return tis
}

// WhWorker is the real inbound processing of the app, with an assistant on the fixtures' number.
func WhWorker(t *testing.T, a *app.App, workspaceID int64) *asynq.ServeMux {
	t.Helper()
	pid := WhPhoneID
	as := testkit.Verified(&store.Assistant{WorkspaceID: workspaceID, Name: "Shop", WhatsAppPhoneNumberID: &pid})
	if err := a.Store.CreateAssistant(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	wa := &workers.WhatsApp{Queue: a.Queue, Log: testkit.Logger(t),
		Service: &whatsapp.Service{Store: a.Store, Conversations: a.Conversations, Client: whatsapp.NewClient("http://127.0.0.1:1"), Decrypt: a.Keys.Decrypt}}
	in := &workers.Inbound{Queue: a.Queue, Log: testkit.Logger(t), SweepAge: time.Nanosecond,
		Service: &inbound.Service{Store: a.Store, Log: testkit.Logger(t), Processors: map[string]inbound.Processor{whatsapp.Provider: wa.Process}}}
	return workers.NewMux(workers.Handlers{Inbound: in, WhatsApp: wa})
}

// WhDrain runs the pending inbound tasks.
func WhDrain(t *testing.T, a *app.App, mux *asynq.ServeMux) int {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(a.Redis)
	n := 0
	for _, ti := range WhPending(t, a) {
		_ = insp.DeleteTask(ti.Queue, ti.ID)
		if err := mux.ProcessTask(context.Background(), asynq.NewTask(ti.Type, ti.Payload)); err != nil {
			t.Fatalf("%s: %v", ti.ID, err)
		}
		n++
	}
	return n
}
