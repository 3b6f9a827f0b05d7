package webhooks_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/app/whatsapp"
)

// FuzzWebhookHandler posts correctly signed fuzzed bodies to POST /webhooks/whatsapp on one
// in-process server: the answer is 200 (every event of the body stored), 400 malformed (a
// body Split refuses, nothing to store) or 413, never a 500 or a 503 (which would make Meta
// deliver the same body again for days).
func FuzzWebhookHandler(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "whatsapp", "testdata", "*.json"))
	if len(paths) == 0 {
		f.Fatal("no WhatsApp fixtures")
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{``, `{`, `null`, `{}`, `[]`, `{"entry":[]}]`, `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[{"id":"\u0000"}],"statuses":[{"id":"\u0000","status":"read"}]}}]}]}`,
		"{\"entry\":[{\"id\":\"1\",\"changes\":[{\"field\":\"messages\",\"value\":{\"messages\":[{\"id\":\"wamid.1\",\"from\":\"1\",\"text\":{\"body\":\"\xc3\x28\"}}]}}]}]}",
	} {
		f.Add([]byte(s))
	}
	cfg := testkit.Config(f)
	cfg.WhatsAppAppSecret = webtest.WhSecret
	cfg.WhatsAppVerifyToken = webtest.WhVerify
	srv := webtest.NewFuzzServer(f, cfg)
	st := srv.App.Store

	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/whatsapp", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(webtest.WhSecret, body))
		rec := srv.Serve(req)
		evs, splitErr := whatsapp.Split(body)
		switch rec.Code {
		case http.StatusOK:
			if splitErr != nil {
				t.Fatalf("200 for a body Split refuses: %v", splitErr)
			}
			if len(evs) == 0 {
				return
			}
			// Acknowledged means stored: every event of the body is there.
			ids := make([]string, len(evs))
			for i, ev := range evs {
				ids[i] = ev.ProviderID
			}
			n, err := st.DB.NewSelect().Table("inbound_events").
				Where("provider = ? AND provider_id IN (?)", whatsapp.Provider, bun.List(ids)).Count(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if int(n) != len(ids) {
				t.Fatalf("200 but %d of %d events stored", n, len(ids))
			}
		case http.StatusBadRequest:
			if splitErr == nil {
				t.Fatalf("400 for a body Split accepts (%d events): %s", len(evs), rec.Body.String())
			}
			if code, _ := webtest.APIError(t, rec); code != "malformed" {
				t.Fatalf("400 with code %q", code)
			}
		case http.StatusRequestEntityTooLarge:
			if len(body) <= whatsapp.MaxBodyBytes {
				t.Fatalf("413 for %d bytes", len(body))
			}
		default:
			t.Fatalf("status %d for a signed body: %s", rec.Code, rec.Body.String())
		}
	})
}
