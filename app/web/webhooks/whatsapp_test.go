package webhooks_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/inbound"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/workers"
)

func whCount(t *testing.T, a *app.App, model any) int64 {
	t.Helper()
	n, err := a.Store.DB.NewSelect().Model(model).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWhatsAppVerifyHandshake(t *testing.T) {
	e := webtest.WhEnv(t, testkit.Config(t))
	get := func(q url.Values) (int, string, string) {
		res, err := http.Get(e.URL + "/webhooks/whatsapp?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header.Get("Content-Type")
	}
	code, b, ct := get(url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {webtest.WhVerify}, "hub.challenge": {"1158201444"}})
	if code != 200 || b != "1158201444" || !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("handshake: %d %q %q", code, b, ct)
	}
	for name, q := range map[string]url.Values{
		"wrong token":   {"hub.mode": {"subscribe"}, "hub.verify_token": {"guess"}, "hub.challenge": {"1"}},
		"no token":      {"hub.mode": {"subscribe"}, "hub.challenge": {"1"}},
		"wrong mode":    {"hub.mode": {"unsubscribe"}, "hub.verify_token": {webtest.WhVerify}, "hub.challenge": {"1"}},
		"no parameters": {},
	} {
		if code, b, _ := get(q); code != http.StatusForbidden || strings.Contains(b, "1158201444") {
			t.Errorf("%s: %d %q, want 403", name, code, b)
		}
	}
	// Not configured: every handshake is refused.
	cfg := testkit.Config(t)
	a := testkit.App(t, cfg)
	srv := httptest.NewServer(web.New(a).Handler())
	defer srv.Close()
	res, _ := http.Get(srv.URL + "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=&hub.challenge=1")
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("unconfigured handshake: %d", res.StatusCode)
	}
}

func TestWhatsAppWebhookRefusesWithoutStoring(t *testing.T) {
	e := webtest.WhEnv(t, testkit.Config(t))
	body := webtest.WhFixture(t, "text_message.json")
	sig := whatsapp.Sign(webtest.WhSecret, body)
	oversized := append([]byte(`{"entry":[],"pad":"`), bytes.Repeat([]byte("x"), whatsapp.MaxBodyBytes)...)
	oversized = append(oversized, '"', '}')
	cases := []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"unsigned", body, "", http.StatusUnauthorized},
		{"badly signed", body, "sha256=" + strings.Repeat("0", 64), http.StatusUnauthorized},
		{"signed with another secret", body, whatsapp.Sign("other", body), http.StatusUnauthorized},
		{"signature of another body", append([]byte(" "), body...), sig, http.StatusUnauthorized},
		{"not hex", body, "sha256=nothex", http.StatusUnauthorized},
		{"oversized", oversized, whatsapp.Sign(webtest.WhSecret, oversized), http.StatusRequestEntityTooLarge},
		{"malformed JSON", []byte(`{"entry":[{"id":`), whatsapp.Sign(webtest.WhSecret, []byte(`{"entry":[{"id":`)), http.StatusBadRequest},
		{"not an object", []byte(`[1]`), whatsapp.Sign(webtest.WhSecret, []byte(`[1]`)), http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, b := webtest.WhPost(t, e, tc.body, tc.sig)
			if code != tc.want {
				t.Fatalf("%d %s, want %d", code, b, tc.want)
			}
			if !strings.Contains(b, `"error"`) {
				t.Fatalf("JSON error body: %s", b)
			}
			if n := whCount(t, e.App, (*store.InboundEvent)(nil)); n != 0 {
				t.Fatalf("%d events stored", n)
			}
		})
	}
	// Chunked, without a Content-Length: the limit holds while reading.
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/webhooks/whatsapp", io.MultiReader(bytes.NewReader(oversized)))
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(webtest.WhSecret, oversized))
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else if res.Body.Close(); res.StatusCode != http.StatusRequestEntityTooLarge || req.ContentLength > 0 {
		t.Fatalf("chunked oversized: %d (content length %d)", res.StatusCode, req.ContentLength)
	}
	// A body over the global 1M limit but under 3 MB is accepted: webhooks have their own limit.
	big := []byte(strings.Replace(string(body), `"type": "text"`, `"type": "text", "padding": "`+strings.Repeat("y", 2<<20)+`"`, 1))
	if code := webtest.WhSigned(t, e, big); code != http.StatusOK {
		t.Fatalf("2 MB delivery: %d", code)
	}
	if n := whCount(t, e.App, (*store.InboundEvent)(nil)); n != 1 {
		t.Fatalf("%d events", n)
	}
	// The global limit still applies elsewhere.
	res, err := http.Post(e.URL+"/login", "application/x-www-form-urlencoded", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("global body limit: %d", res.StatusCode)
	}

	// No app secret configured: nothing can be verified, nothing is stored.
	a := testkit.App(t, testkit.Config(t))
	srv := httptest.NewServer(web.New(a).Handler())
	defer srv.Close()
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/webhooks/whatsapp", bytes.NewReader(body))
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign("", body))
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK || whCount(t, a, (*store.InboundEvent)(nil)) != 0 {
		t.Fatalf("unconfigured secret: %d", res.StatusCode)
	}
}

// The same delivery ten times at once: ten 200s, one event, one task, one message.
func TestWhatsAppWebhookDuplicatesConcurrently(t *testing.T) {
	e := webtest.WhEnv(t, testkit.Config(t))
	ws := e.User("owner@shop.test", "password123")
	mux := webtest.WhWorker(t, e.App, ws.ID)
	body := webtest.WhFixture(t, "text_message.json")
	var wg sync.WaitGroup
	codes := make([]int, 10)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i] = webtest.WhSigned(t, e, body)
		}(i)
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("delivery %d: %d", i, c)
		}
	}
	if n := whCount(t, e.App, (*store.InboundEvent)(nil)); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
	if n := webtest.WhDrain(t, e.App, mux); n != 1 {
		t.Fatalf("%d tasks, want 1", n)
	}
	// Meta delivers it again later: still one.
	if c := webtest.WhSigned(t, e, body); c != http.StatusOK {
		t.Fatal(c)
	}
	webtest.WhDrain(t, e.App, mux)
	if n := whCount(t, e.App, (*store.Message)(nil)); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
	if n := whCount(t, e.App, (*store.Conversation)(nil)); n != 1 {
		t.Fatalf("%d conversations", n)
	}
}

// One POST with several entries, changes, messages and statuses: every part is stored and
// enqueued; the same batch again adds nothing.
func TestWhatsAppWebhookBatch(t *testing.T) {
	e := webtest.WhEnv(t, testkit.Config(t))
	body := []byte(`{"object":"whatsapp_business_account","entry":[
	 {"id":"W1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"` + webtest.WhPhoneID + `"},
	   "contacts":[{"profile":{"name":"Ada"},"wa_id":"111"}],
	   "messages":[
	    {"from":"111","id":"wamid.M1","timestamp":"1749416383","type":"text","text":{"body":"one"}},
	    {"from":"111","id":"wamid.M2","timestamp":"1749416384","type":"text","text":{"body":"two"}}],
	   "statuses":[
	    {"id":"wamid.S","status":"delivered","timestamp":"1749416385","recipient_id":"111"},
	    {"id":"wamid.S","status":"read","timestamp":"1749416386","recipient_id":"111"}]}},
	  {"field":"account_update","value":{"event":"VERIFIED_ACCOUNT"}}]},
	 {"id":"W2","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"` + webtest.WhPhoneID + `"},
	   "contacts":[{"profile":{"name":"Bob"},"wa_id":"222"}],
	   "messages":[{"from":"222","id":"wamid.M3","timestamp":"1749416387","type":"sticker","sticker":{"id":"5"}}]}}]}]}`)
	if c := webtest.WhSigned(t, e, body); c != http.StatusOK {
		t.Fatal(c)
	}
	var evs []store.InboundEvent
	if err := e.App.Store.DB.NewSelect().Model(&evs).Order("provider_id ASC").Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, ev := range evs {
		got = append(got, ev.Kind+" "+ev.ProviderID)
		if ev.Provider != "whatsapp" || ev.ProcessedAt != nil || ev.RequestID == "" {
			t.Errorf("event: %+v", ev)
		}
	}
	want := "message wamid.M1,message wamid.M2,message wamid.M3,status wamid.S:delivered,status wamid.S:read"
	if len(got) != 6 || strings.Join(got[1:], ",") != want || !strings.HasPrefix(got[0], "change change:") {
		t.Fatalf("events:\n%s\nwant a change and %s", strings.Join(got, "\n"), want)
	}
	if n := len(webtest.WhPending(t, e.App)); n != 6 {
		t.Fatalf("%d tasks enqueued, want 6", n)
	}
	if c := webtest.WhSigned(t, e, body); c != http.StatusOK {
		t.Fatal(c)
	}
	if n := whCount(t, e.App, (*store.InboundEvent)(nil)); n != 6 {
		t.Fatalf("the same batch again: %d events", n)
	}
	if n := len(webtest.WhPending(t, e.App)); n != 6 {
		t.Fatalf("the same batch again: %d tasks", n)
	}
}

// Unknown message types are stored with their type and shown as unsupported on the page.
func TestWhatsAppWebhookUnsupportedTypesShown(t *testing.T) {
	e := webtest.WhEnv(t, testkit.Config(t))
	ws := e.User("owner@shop.test", "password123")
	mux := webtest.WhWorker(t, e.App, ws.ID)
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":{
	  "metadata":{"phone_number_id":"` + webtest.WhPhoneID + `"},"contacts":[{"profile":{"name":"Ada"},"wa_id":"111"}],
	  "messages":[
	   {"from":"111","id":"wamid.R","timestamp":"1749416383","type":"reaction","reaction":{"message_id":"wamid.X","emoji":"x"}},
	   {"from":"111","id":"wamid.I","timestamp":"1749416384","type":"image","image":{"id":"1","mime_type":"image/jpeg"}},
	   {"from":"111","id":"wamid.U","timestamp":"1749416385","type":"unsupported","errors":[{"code":131051}]},
	   {"from":"111","id":"wamid.T","timestamp":"1749416386","type":"text","text":{"body":"<b>hi</b>"}}]}}]}]}`)
	if c := webtest.WhSigned(t, e, body); c != http.StatusOK {
		t.Fatal(c)
	}
	webtest.WhDrain(t, e.App, mux)
	var conv store.Conversation
	if err := e.App.Store.DB.NewSelect().Model(&conv).Limit(1).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := e.Client()
	e.Login(c, "owner@shop.test", "password123")
	res := e.Get(c, fmt.Sprintf("/conversations/%d", conv.ID))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("page: %d", res.StatusCode)
	}
	text := webtest.Doc(t, res).Text()
	for _, want := range []string{"unsupported message (reaction)", "unsupported message (image)", "unsupported message (unsupported)", "<b>hi</b>", "+111"} {
		if !strings.Contains(text, want) {
			t.Errorf("page does not show %q", want)
		}
	}
}

// The database is down: 503, so that Meta delivers again; never 200 for an event not stored.
func TestWhatsAppWebhookDatabaseDown(t *testing.T) {
	e := webtest.WhEnv(t, testkit.Config(t))
	e.App.Store.DB.Close()
	code, b := webtest.WhPost(t, e, webtest.WhFixture(t, "text_message.json"), whatsapp.Sign(webtest.WhSecret, webtest.WhFixture(t, "text_message.json")))
	if code != http.StatusServiceUnavailable {
		t.Fatalf("database down: %d %s", code, b)
	}
	if len(webtest.WhPending(t, e.App)) != 0 {
		t.Fatal("a task was enqueued for an event that is not stored")
	}
}

// Redis is down: the event is stored and acknowledged; the sweep enqueues it later.
func TestWhatsAppWebhookRedisDown(t *testing.T) {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e := webtest.WhEnv(t, testkit.ConfigFor(t, testkit.NewDB(t), "redis://"+m.Addr()+"/0"))
	ws := e.User("owner@shop.test", "password123")
	mux := webtest.WhWorker(t, e.App, ws.ID)
	m.Close()
	start := time.Now()
	if c := webtest.WhSigned(t, e, webtest.WhFixture(t, "text_message.json")); c != http.StatusOK {
		t.Fatalf("Redis down: %d", c)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("acknowledged after %v", d)
	}
	var ev store.InboundEvent
	if err := e.App.Store.DB.NewSelect().Model(&ev).Limit(1).Scan(context.Background()); err != nil {
		t.Fatalf("event not stored: %v", err)
	}
	if ev.ProcessedAt != nil {
		t.Fatal("processed without a worker")
	}
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	in := &workers.Inbound{Service: &inbound.Service{Store: e.App.Store, Log: testkit.Logger(t)}, Tasks: e.App.Tasks, Log: testkit.Logger(t), SweepAge: time.Nanosecond}
	if err := in.HandleSweep(context.Background(), e.App.Tasks.InboundSweep()); err != nil {
		t.Fatal(err)
	}
	tis := webtest.WhPending(t, e.App)
	if len(tis) != 1 || tis[0].ID != fmt.Sprintf("%s:inbound:%d:%s", e.App.Tasks.Prefix(), ev.ID, workers.EventToken(ev.ReceivedAt)) {
		t.Fatalf("swept tasks: %v", tis)
	}
	webtest.WhDrain(t, e.App, mux)
	if n := whCount(t, e.App, (*store.Message)(nil)); n != 1 {
		t.Fatalf("%d messages after the sweep", n)
	}
}
