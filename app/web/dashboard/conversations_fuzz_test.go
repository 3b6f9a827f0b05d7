package dashboard_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
)

// FuzzConversationsQuery sends a fuzzed query string (as raw as a client can send it) to the
// list page (full and htmx fragment), the JSON API and the CSV export: 200 or 400, never a
// 500. The API answers 400 exactly when ParseQuery refuses the filter, with a JSON error.
func FuzzConversationsQuery(f *testing.F) {
	cfg := testkit.Config(f)
	srv := webtest.NewFuzzServer(f, cfg)
	fx := (&env{srv.Env}).fixture("ana@example.com")
	c := srv.Client()
	srv.Login(c, "ana@example.com", "correct-horse")
	cookie := srv.CookieHeader(c)
	key, prefix, hash, err := auth.NewAPIKey()
	if err != nil {
		f.Fatal(err)
	}
	if _, err := srv.App.Store.CreateAPIKey(context.Background(), fx.ws.ID, "fuzz", prefix, hash, nil); err != nil {
		f.Fatal(err)
	}

	// Seeds: real filter URLs, and the cursors the code hands out for this workspace.
	seeds := []string{
		"", "type=whatsapp", "assistant=" + strconv.FormatInt(fx.assistant.ID, 10), "assistant_id=7", "range=7", "range=30&type=widget",
		"range=custom&from=2026-11-01&to=2026-11-02", "from=2026-11-01T10:00:00%2B02:00&to=2026-11-30T00:00:00Z",
		"var=email&value=a%40b.co", "q=+hello+", "q=hello&type=test", "sort=cost", "closing=1", "missing=true", "limit=1",
		"type=fax", "assistant=x", "range=5", "from=yesterday", "from=0000-01-01T00:00:00Z&to=9999-12-31T23:59:59Z",
		"from=0001-01-01T00:00:00%2B01:00", "from=0001-01-01&to=9999-12-31",
		"sort=name", "value=x", "limit=0", "cursor=abc", "q=%00", "customer=%2B4915112345678", "customer=cust-",
		"%zz=1&q=a;b", "rows=1&cursor=abc",
		// Time cursors beyond what PostgreSQL holds.
		"cursor=" + base64.RawURLEncoding.EncodeToString([]byte("last.-9223372036854775808.1")),
		"cursor=" + base64.RawURLEncoding.EncodeToString([]byte("last.9223372036854775807.1")),
	}
	ctx := context.Background()
	for _, sort := range []string{"", "cost"} {
		_, next, err := srv.App.Store.ListConversations(ctx, fx.ws.ID, store.Filter{Sort: sort}, "", 1)
		if err != nil || next == "" {
			f.Fatalf("a first page of one: %q %v", next, err)
		}
		v := url.Values{"cursor": {next}, "limit": {"1"}}
		if sort != "" {
			v.Set("sort", sort)
		}
		seeds = append(seeds, v.Encode(), "rows=1&"+v.Encode(), "cursor="+next+"&sort=cost")
	}
	page, err := srv.App.Store.Messages(ctx, fx.ws.ID, fx.convs[model.TypeTest].ID, "", 1)
	if err != nil || page.OlderCursor == "" {
		f.Fatalf("messages page: %+v %v", page, err)
	}
	seeds = append(seeds, "cursor="+page.OlderCursor)
	for _, s := range seeds {
		f.Add(s, false)
		f.Add(s, true)
	}

	get := func(path, raw string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.URL.RawQuery = raw
		req.RequestURI = path + "?" + raw
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		return srv.Serve(req)
	}
	f.Fuzz(func(t *testing.T, raw string, fragment bool) {
		hdr := []string{"Cookie", cookie}
		if fragment {
			hdr = append(hdr, "HX-Request", "true")
		}
		if rec := get("/conversations", raw, hdr...); rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("GET /conversations?%s: %d %s", raw, rec.Code, rec.Body.String())
		}
		_, _, perr := conversation.ParseQuery(mustQuery(raw), time.Now())
		rec := get("/api/v1/conversations", raw, "Authorization", "Bearer "+key)
		switch rec.Code {
		case http.StatusOK:
			if perr != nil {
				t.Fatalf("API 200 for a filter ParseQuery refuses (%v): %s", perr, raw)
			}
		case http.StatusBadRequest:
			webtest.APIError(t, rec)
		default:
			t.Fatalf("GET /api/v1/conversations?%s: %d %s", raw, rec.Code, rec.Body.String())
		}
		if rec := get("/conversations/export.csv", raw, "Cookie", cookie); rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("GET /conversations/export.csv?%s: %d %s", raw, rec.Code, rec.Body.String())
		}
	})
}

func mustQuery(raw string) url.Values {
	v, _ := url.ParseQuery(raw)
	return v
}
