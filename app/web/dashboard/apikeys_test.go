package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
)

// Settings → API keys: a scope select (write by default); the list shows each key's scope and
// who created it; a read key made there may read the API and not change it; a wrong scope is
// a 422 naming the field, and creates nothing.
func TestAPIKeyScopesInSettings(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st := e.App.Store
	ws := e.User("ana@example.com", "correct-horse")
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")

	d := webtest.Doc(t, e.Get(c, "/settings"))
	var opts []string
	d.Find("#api-keys select#key-scope[name=scope] option").Each(func(_ int, o *goquery.Selection) { opts = append(opts, o.AttrOr("value", "")) })
	if strings.Join(opts, ",") != "read,write" || d.Find("#key-scope option[selected]").AttrOr("value", "") != model.ScopeWrite {
		t.Fatalf("scope options %v, selected %q", opts, d.Find("#key-scope option[selected]").AttrOr("value", ""))
	}
	if d.Find(`label[for=key-scope]`).Length() != 1 {
		t.Fatal("the scope select has a label")
	}

	tok := e.CSRF(c, "/settings")
	// A wrong scope: 422, the error beside the field naming it, nothing created (htmx or not).
	for _, hdr := range [][]string{{"HX-Request", "true"}, nil} {
		res := e.PostForm(c, "/settings/api-keys", url.Values{"_csrf": {tok}, "name": {"CRM"}, "scope": {"admin"}}, hdr...)
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("wrong scope %v: %d", hdr, res.StatusCode)
		}
		d := webtest.Doc(t, res)
		if msg := d.Find("#api-keys .field-error").Text(); d.Find("#api-keys .field-error").Length() != 1 || !strings.Contains(msg, "Scope") || !strings.Contains(msg, `"read" or "write"`) {
			t.Fatalf("wrong scope error: %q", msg)
		}
		if d.Find("#new-api-key").Length() != 0 || d.Find("#key-name").AttrOr("value", "") != "CRM" {
			t.Fatal("the form is shown again with the name kept, and no key")
		}
	}
	if keys, err := st.APIKeys(ctx, ws.ID); err != nil || len(keys) != 0 {
		t.Fatalf("a wrong scope created %d keys (%v)", len(keys), err)
	}
	// A wrong name keeps the scope chosen.
	d = webtest.Doc(t, e.PostForm(c, "/settings/api-keys", url.Values{"_csrf": {tok}, "name": {" "}, "scope": {"read"}}, "HX-Request", "true"))
	if d.Find("#key-scope option[selected]").AttrOr("value", "") != model.ScopeRead {
		t.Fatal("a wrong name keeps the scope chosen")
	}

	// A read key and a key without the field (write, as before scopes).
	newKey := func(form url.Values) string {
		t.Helper()
		form.Set("_csrf", tok)
		res := e.PostForm(c, "/settings/api-keys", form, "HX-Request", "true")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("create %v: %d", form, res.StatusCode)
		}
		key := strings.TrimSpace(webtest.Doc(t, res).Find("#new-api-key").Text())
		if !strings.HasPrefix(key, auth.APIKeyPrefix) {
			t.Fatalf("create %v: no key shown", form)
		}
		return key
	}
	readKey := newKey(url.Values{"name": {"Reporting"}, "scope": {"read"}})
	writeKey := newKey(url.Values{"name": {"Old form"}})
	for key, scope := range map[string]string{readKey: model.ScopeRead, writeKey: model.ScopeWrite} {
		k, err := st.APIKeyByHash(ctx, auth.HashAPIKey(key))
		if err != nil || k.Scope != scope || k.CreatedBy == nil {
			t.Fatalf("stored %+v %v, want scope %s and a creator", k, err, scope)
		}
	}

	// Keys made by a user with a name, and by nobody (the command line).
	bob := &store.User{WorkspaceID: ws.ID, Email: "bob@example.com", Name: "Bob <Builder>", PasswordHash: "x", Role: model.UserRoleMember, CreatedAt: time.Now()}
	if err := st.CreateUser(ctx, bob, model.MemberAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateAPIKey(ctx, ws.ID, "Bob's", "pk_live_bobbob", "hash-bob", &bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateAPIKey(ctx, ws.ID, "CLI", "pk_live_clicli", "hash-cli", nil); err != nil {
		t.Fatal(err)
	}
	rows := map[string][2]string{}
	webtest.Doc(t, e.Get(c, "/settings")).Find("#api-keys tbody tr").Each(func(_ int, tr *goquery.Selection) {
		rows[strings.TrimSpace(tr.Find("td").First().Text())] = [2]string{strings.TrimSpace(tr.Find("td.key-scope").Text()), strings.TrimSpace(tr.Find("td.key-creator").Text())}
	})
	want := map[string][2]string{
		"Reporting": {"read", "ana@example.com"},
		"Old form":  {"write", "ana@example.com"},
		"Bob's":     {"write", "Bob <Builder>"},
		"CLI":       {"write", "—"},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows %v", rows)
	}
	for name, w := range want {
		if rows[name] != w {
			t.Errorf("%s: scope and creator %q, want %q", name, rows[name], w)
		}
	}

	// The read key reads the API, and changes nothing.
	api := func(method, path, key string) int {
		req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(`{"name":"x","model":"m"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := api(http.MethodGet, "/api/v1/me", readKey); got != http.StatusOK {
		t.Fatalf("read key GET /api/v1/me: %d", got)
	}
	if got := api(http.MethodPost, "/api/v1/assistants", readKey); got != http.StatusForbidden {
		t.Fatalf("read key POST /api/v1/assistants: %d", got)
	}
	if got := api(http.MethodPost, "/api/v1/assistants", writeKey); got != http.StatusCreated {
		t.Fatalf("write key POST /api/v1/assistants: %d", got)
	}
}
