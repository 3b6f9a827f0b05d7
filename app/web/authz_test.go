package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/reeval"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/team"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/app/widget"
)

// Authorisation tests: every route the server registers is classified in azRoutes, and each
// class is checked against it. A route that azRoutes does not know fails the test, so a new
// route cannot ship without someone deciding who may call it.
//
// Helpers of these tests carry an "az" prefix.

// azWS is one workspace's data: an assistant (widget and WhatsApp), a conversation of each
// type with messages and variables, an API key, a revoked key, a WhatsApp template and a
// bulk-deletion job. Everything it stores carries its marker, so that a response leaking
// it can be recognised.
type azWS struct {
	ws         *store.Workspace
	email      string
	marker     string // in every piece of its data, the assistant's public settings included
	convMark   string // only in conversation data (customers, messages, variables)
	assistant  *store.Assistant
	spare      *store.Assistant // a second assistant, without conversations
	convs      map[string]*store.Conversation
	userMsg    map[string]int64 // a user message of each conversation
	key        string
	keyID      int64
	spareKeyID int64 // a second key, for the revocation route
	revoked    string
	template   *store.WhatsAppTemplate
	job        string
	session    int64 // a dashboard session of the workspace's user, not the test's client's
	agentID    int64 // a second member of the workspace (an agent)
	view       int64 // a shared saved view
	invite     int64 // an open invite of the workspace, and its link's token
	inviteTok  string
	tag        int64 // a tag of the workspace (issue 14: review)
	replay     int64 // a replay of the widget conversation (issue 15)
	// issue 15: a test set of the assistant with two cases (the test and widget
	// conversations), and two empty sets, for the deletion routes.
	testSet, testCase, testCase2, spareSet, spareSet2 int64
	// issue 15: test set runs: a set of the assistant with one case, and a run of it
	trSet, trRun int64
}

func (e *env) azWorkspace(name, phoneID string) *azWS {
	e.T.Helper()
	ctx := context.Background()
	w := &azWS{email: strings.ToLower(name) + "@" + strings.ToLower(name) + ".test", marker: "AZMARK" + name + "Q", convMark: "AZCONV" + name + "Q",
		convs: map[string]*store.Conversation{}, userMsg: map[string]int64{}}
	w.ws = e.User(w.email, "correct-horse")
	pid := phoneID
	w.assistant = &store.Assistant{WorkspaceID: w.ws.ID, Name: "Bot " + w.marker, SystemPrompt: "secret prompt " + w.marker,
		FirstMessage: "Hello!", Model: "gpt-4o-mini", WhatsAppPhoneNumberID: &pid,
		Variables:      webtest.FromJSON[store.Variables](e.T, `[{"name":"email","description":"email","type":"email","required":true},{"name":"note","description":"note","type":"text"}]`),
		PrechatFields:  webtest.FromJSON[store.PrechatFields](e.T, `[{"name":"email","label":"Your email","type":"email","required":true}]`),
		AllowedOrigins: []string{"https://shop.example.com"}, WidgetSettings: webtest.FromJSON[store.WidgetSettings](e.T, `{"title":"Help","color":"#0a7d5a"}`)}
	if err := e.App.Store.CreateAssistant(ctx, w.assistant); err != nil {
		e.T.Fatal(err)
	}
	w.spare = &store.Assistant{WorkspaceID: w.ws.ID, Name: "Spare " + w.marker, Model: "gpt-4o-mini"}
	if err := e.App.Store.CreateAssistant(ctx, w.spare); err != nil {
		e.T.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).UTC()
	for i, typ := range model.Types {
		c := &store.Conversation{WorkspaceID: w.ws.ID, AssistantID: &w.assistant.ID, Type: typ, Customer: "cust-" + typ + "-" + w.convMark,
			CustomerName: "Name " + w.convMark, StartedAt: base, Charged: typ != model.TypeTest, AIEnabled: true}
		if typ == model.TypeWhatsApp {
			c.Customer = "+49151" + strconv.Itoa(1000000+len(name)*10+i)
		}
		if err := e.App.Conversations.Create(ctx, c); err != nil {
			e.T.Fatal(err)
		}
		for j, m := range []store.Message{
			{Role: "user", Content: "question " + typ + " " + w.convMark},
			{Role: "assistant", Content: "answer " + typ + " " + w.convMark, PromptTokens: 10, CompletionTokens: 5, CostNanos: 1000},
			{Role: "user", Content: "thanks " + typ + " " + w.convMark},
		} {
			m.WorkspaceID, m.ConversationID, m.CreatedAt = w.ws.ID, c.ID, base.Add(time.Duration(i*10+j)*time.Minute)
			if _, err := e.App.Conversations.AddMessage(ctx, &m); err != nil {
				e.T.Fatal(err)
			}
			if m.Role == "user" {
				w.userMsg[typ] = m.ID
			}
		}
		for _, v := range []store.ConversationVariable{{Name: "email", Value: "buyer-" + strings.ToLower(w.convMark) + "@shop.test", Source: "prechat"}, {Name: "note", Value: "note " + w.convMark, Source: "extracted"}} {
			v.WorkspaceID, v.ConversationID = w.ws.ID, c.ID
			if err := e.App.Store.SetVariable(ctx, &v); err != nil {
				e.T.Fatal(err)
			}
		}
		cur, err := e.App.Store.GetConversation(ctx, w.ws.ID, c.ID)
		if err != nil {
			e.T.Fatal(err)
		}
		w.convs[typ] = cur
	}
	key, prefix, hash, err := auth.NewAPIKey()
	if err != nil {
		e.T.Fatal(err)
	}
	k, err := e.App.Store.CreateAPIKey(ctx, w.ws.ID, "key "+w.marker, prefix, hash, nil)
	if err != nil {
		e.T.Fatal(err)
	}
	w.key, w.keyID = key, k.ID
	rkey, rprefix, rhash, _ := auth.NewAPIKey()
	rk, err := e.App.Store.CreateAPIKey(ctx, w.ws.ID, "old key "+w.marker, rprefix, rhash, nil)
	if err != nil {
		e.T.Fatal(err)
	}
	if err := e.App.Store.RevokeAPIKey(ctx, w.ws.ID, rk.ID); err != nil {
		e.T.Fatal(err)
	}
	w.revoked = rkey
	_, sprefix, shash, _ := auth.NewAPIKey()
	sk, err := e.App.Store.CreateAPIKey(ctx, w.ws.ID, "spare key "+w.marker, sprefix, shash, nil)
	if err != nil {
		e.T.Fatal(err)
	}
	w.spareKeyID = sk.ID
	sv := &store.SavedView{WorkspaceID: w.ws.ID, Name: "Refunds " + w.marker, Query: "outcome=unresolved"}
	if err := e.App.Store.CreateSavedView(ctx, sv); err != nil {
		e.T.Fatal(err)
	}
	w.view = sv.ID
	w.template = &store.WhatsAppTemplate{WorkspaceID: w.ws.ID, AssistantID: w.assistant.ID, Name: "order_update", Language: "en",
		Category: "UTILITY", Body: "Your order {{1}} " + w.marker, Params: "order", Source: "manual"}
	if err := e.App.Store.CreateWhatsAppTemplate(ctx, w.template); err != nil {
		e.T.Fatal(err)
	}
	w.job = conversation.NewJobID()
	if err := (conversation.BulkJobs{Redis: e.App.Redis}).Start(ctx, w.ws.ID, w.job, 3); err != nil {
		e.T.Fatal(err)
	}
	// The same id for a bulk "Evaluate again" (issue 14), for its status route.
	if err := (conversation.BulkJobs{Redis: e.App.Redis, Kind: reeval.JobKind}).Start(ctx, w.ws.ID, w.job, 3); err != nil {
		e.T.Fatal(err)
	}
	// A second member, an agent, for the members' routes.
	h, err := auth.HashPassword("correct-horse")
	if err != nil {
		e.T.Fatal(err)
	}
	agent, err := e.App.Store.CreateMemberUser(ctx, w.ws.ID, "agent-"+w.email, "Agent "+w.marker, h, model.UserRoleMember, model.MemberAgent)
	if err != nil {
		e.T.Fatal(err)
	}
	w.agentID = agent.ID
	// An open invite (an agent's), for the invites' routes.
	owner, err := e.App.Store.UserByEmail(ctx, w.email)
	if err != nil {
		e.T.Fatal(err)
	}
	inv, err := e.App.Team.Invite(ctx, w.ws, team.Actor{UserID: owner.ID, Role: model.MemberOwner}, "invitee-"+w.email, model.MemberAgent,
		func(token string) string { return token })
	if err != nil {
		e.T.Fatal(err)
	}
	w.invite, w.inviteTok = inv.Invite.ID, inv.URL
	tag := &store.Tag{WorkspaceID: w.ws.ID, Name: "Tag " + w.marker, NameKey: strings.ToLower("Tag " + w.marker), Color: "red"}
	if err := e.App.Store.CreateTag(ctx, tag); err != nil {
		e.T.Fatal(err)
	}
	w.tag = tag.ID
	// issue 15: a replay of the widget conversation, for the replay's routes.
	rp := &store.Replay{WorkspaceID: w.ws.ID, ConversationID: &w.convs[model.TypeWidget].ID, AssistantID: w.assistant.ID, Version: 1}
	if _, err := e.App.Store.CreateReplay(ctx, rp, []store.ReplayTurn{{Customer: "question " + w.convMark, Original: "answer " + w.convMark}}); err != nil {
		e.T.Fatal(err)
	}
	w.replay = rp.ID
	// issue 15: test sets.
	for i, id := range []*int64{&w.testSet, &w.spareSet, &w.spareSet2} {
		name := "Set " + strconv.Itoa(i) + " " + w.marker
		ts := &store.TestSet{WorkspaceID: w.ws.ID, AssistantID: w.assistant.ID, Name: name, NameKey: strings.ToLower(name)}
		if err := e.App.Store.CreateTestSet(ctx, ts); err != nil {
			e.T.Fatal(err)
		}
		*id = ts.ID
	}
	var cases []store.TestCase
	for _, typ := range []string{model.TypeTest, model.TypeWidget} {
		cid := w.convs[typ].ID
		cases = append(cases, store.TestCase{ConversationID: &cid, Title: "case " + w.convMark, Turns: store.TestCaseTurns{{Customer: "question " + w.convMark}}})
	}
	if _, _, err := e.App.Store.AddTestCases(ctx, w.ws.ID, w.testSet, cases, model.MaxTestCases, nil); err != nil {
		e.T.Fatal(err)
	}
	if tcs, err := e.App.Store.TestCases(ctx, w.ws.ID, w.testSet); err != nil || len(tcs) != 2 {
		e.T.Fatalf("test cases: %v %v", tcs, err)
	} else {
		w.testCase, w.testCase2 = tcs[0].ID, tcs[1].ID
	}
	// A session of the user on another device, for the route that ends one.
	e.Login(e.Client(), w.email, "correct-horse")
	u, err := e.App.Store.UserByEmail(ctx, w.email)
	if err != nil {
		e.T.Fatal(err)
	}
	sessions, err := e.App.Store.UserSessions(ctx, u.ID, time.Now(), time.Now().Add(-time.Hour))
	if err != nil || len(sessions) != 1 {
		e.T.Fatalf("the spare session: %v %v", sessions, err)
	}
	w.session = sessions[0].ID
	// issue 15: test set runs
	trSet := &store.TestSet{WorkspaceID: w.ws.ID, AssistantID: w.assistant.ID, Name: "Set " + w.marker, NameKey: "set " + strings.ToLower(w.marker), CreatedAt: time.Now().UTC()}
	if _, err := e.App.Store.DB.NewInsert().Model(trSet).Returning("id").Exec(ctx); err != nil {
		e.T.Fatal(err)
	}
	trCase := &store.TestCase{WorkspaceID: w.ws.ID, TestSetID: trSet.ID, Turns: store.TestCaseTurns{{Customer: "case " + w.convMark}}, CreatedAt: time.Now().UTC()}
	if _, err := e.App.Store.DB.NewInsert().Model(trCase).Returning("id").Exec(ctx); err != nil {
		e.T.Fatal(err)
	}
	trRun, err := e.App.TestRuns.Create(ctx, w.ws.ID, trSet.ID, model.VersionRef{Number: 1}, store.Author{Name: "t"})
	if err != nil {
		e.T.Fatal(err)
	}
	w.trSet, w.trRun = trSet.ID, trRun.ID
	return w
}

// azParams are the values of path parameters, naming w's objects.
func azParams(w *azWS, owner string) map[string]string {
	p := map[string]string{
		"key": w.assistant.PublicKey, "job": w.job, "msg": strconv.FormatInt(w.userMsg[model.TypeTest], 10), "queue": "default",
		"token": "UNKNOWNTOKEN", // a reset link that does not work
		"n":     "1",            // issue 15: version 1, which every assistant has
	}
	switch owner {
	case "conv:test", "conv:widget", "conv:whatsapp":
		p["id"] = strconv.FormatInt(w.convs[strings.TrimPrefix(owner, "conv:")].ID, 10)
	case "assistant":
		p["id"] = strconv.FormatInt(w.assistant.ID, 10)
	case "spare":
		p["id"] = strconv.FormatInt(w.spare.ID, 10)
	case "template":
		p["id"] = strconv.FormatInt(w.template.ID, 10)
	case "apikey":
		p["id"] = strconv.FormatInt(w.spareKeyID, 10)
	case "session":
		p["id"] = strconv.FormatInt(w.session, 10)
	case "member":
		p["id"] = strconv.FormatInt(w.agentID, 10)
	case "invite":
		p["id"] = strconv.FormatInt(w.invite, 10)
	case "tag":
		p["id"] = strconv.FormatInt(w.tag, 10)
	case "view":
		p["id"] = strconv.FormatInt(w.view, 10)
	case "replay": // issue 15
		p["id"] = strconv.FormatInt(w.replay, 10)
	case "testset", "testset:case2": // issue 15
		p["id"] = strconv.FormatInt(w.testSet, 10)
	case "testset:spare":
		p["id"] = strconv.FormatInt(w.spareSet, 10)
	case "testset:spare2":
		p["id"] = strconv.FormatInt(w.spareSet2, 10)
	// issue 15: test set runs
	case "trset":
		p["id"] = strconv.FormatInt(w.trSet, 10)
	case "trrun":
		p["id"] = strconv.FormatInt(w.trRun, 10)
	}
	p["case"] = strconv.FormatInt(w.testCase, 10)
	if owner == "testset:case2" {
		p["case"] = strconv.FormatInt(w.testCase2, 10)
	}
	return p
}

var azParamRe = regexp.MustCompile(`:[a-z]+`)

func azPath(t *testing.T, path string, p map[string]string) string {
	t.Helper()
	out := azParamRe.ReplaceAllStringFunc(path, func(m string) string {
		v, ok := p[m[1:]]
		if !ok {
			t.Fatalf("%s: no value for %s", path, m)
		}
		return url.PathEscape(v)
	})
	return strings.Replace(out, "*", "htmx.min.js", 1)
}

// ---- snapshots ----

// azTables are the tables a request could change.
var azTables = []string{"workspaces", "users", "memberships", "api_keys", "assistants", "conversations", "conversation_counts", "messages",
	"conversation_variables", "usage_ledger", "usage_daily", "inbound_events", "conversation_extractions", "whatsapp_templates",
	"password_resets", "outgoing_mail", "invites",
	"tags", "conversation_tags", "notes", "corrections", // issue 14: review
	"saved_views",
	"test_sets", "test_cases", "test_set_runs", "test_run_cases", "replays", "replay_turns", // issue 15
	"audit_log"} // a refused request records nothing either

// azVolatile are columns that reading requests legitimately touch (a key's or user's last use).
var azVolatile = map[string]bool{"last_used_at": true, "last_login_at": true}

// azSnapshot reads every row of azTables (only workspace ws's rows when ws > 0), each as a
// canonical string, sorted.
func (e *env) azSnapshot(ws int64) map[string][]string {
	e.T.Helper()
	out := map[string][]string{}
	for _, tb := range azTables {
		var rows []map[string]any
		if err := e.App.Store.DB.NewRaw("SELECT * FROM "+tb).Scan(context.Background(), &rows); err != nil {
			e.T.Fatalf("snapshot %s: %v", tb, err)
		}
		var lines []string
		for _, r := range rows {
			if ws > 0 {
				owner := r["workspace_id"]
				if tb == "workspaces" {
					owner = r["id"]
				}
				if fmt.Sprint(owner) != strconv.FormatInt(ws, 10) {
					continue
				}
			}
			cols := make([]string, 0, len(r))
			for k, v := range r {
				if azVolatile[k] {
					continue
				}
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				if tm, ok := v.(time.Time); ok {
					v = tm.UTC().Format(time.RFC3339Nano)
				}
				cols = append(cols, fmt.Sprintf("%s=%v", k, v))
			}
			sort.Strings(cols)
			lines = append(lines, strings.Join(cols, " "))
		}
		sort.Strings(lines)
		out[tb] = lines
	}
	return out
}

func azSameSnapshot(t *testing.T, what string, before, after map[string][]string) {
	t.Helper()
	for _, tb := range azTables {
		if !slices.Equal(before[tb], after[tb]) {
			t.Errorf("%s changed table %s:\nbefore %q\nafter  %q", what, tb, before[tb], after[tb])
		}
	}
}

// ---- requests ----

type azResp struct {
	status int
	header http.Header
	body   string
}

// azDo sends one request. A 200 event stream is not read (it never ends): its body is "".
func (e *env) azDo(c *http.Client, method, path string, body io.Reader, hdr ...string) azResp {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, e.URL+path, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if c == nil {
		c = e.Client()
	}
	res, err := c.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	r := azResp{status: res.StatusCode, header: res.Header}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") && res.StatusCode == http.StatusOK {
		return r
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.T.Fatalf("%s %s: read: %v", method, path, err)
	}
	r.body = string(b)
	return r
}

func azForm(v url.Values) (io.Reader, []string) {
	return strings.NewReader(v.Encode()), []string{"Content-Type", "application/x-www-form-urlencoded"}
}

// azNoLeak fails when body shows any of w's markers.
func azNoLeak(t *testing.T, what, body string, w *azWS) {
	t.Helper()
	for _, m := range []string{w.marker, w.convMark, strings.ToLower(w.convMark)} {
		if strings.Contains(body, m) {
			i := strings.Index(body, m)
			t.Errorf("%s leaks %s: …%s…", what, m, body[max(0, i-80):min(len(body), i+80)])
		}
	}
}

// ---- the route table ----

type azClass int

const (
	azPublic    azClass = iota + 1 // no login: its own check
	azDashboard                    // session + CSRF on unsafe methods, workspace-scoped
	azAdmin                        // a dashboard route for admins only
	azAPI                          // API key, workspace-scoped
)

type azRoute struct {
	class azClass
	// owner names the object of the workspace that :id stands for ("conv:test", "assistant",
	// ...); "" when the path names none of the workspace's objects by id.
	owner string
	// form is the body of unsafe requests (ids of the other workspace's objects in fields
	// included); query is added to the path.
	form  func(w *azWS) url.Values
	query string
	json  string // the body of unsafe API requests
	// jsonFor, when set, is the body of unsafe API requests naming w's objects (B sends A's).
	jsonFor func(w *azWS) string
	// cross is the status another workspace gets (default: 404 when owner is set).
	cross int
	// destructive routes run their positive control last.
	destructive bool
	// check is the whole test of a public route.
	check func(t *testing.T, f *azFix, path string)
}

// azFix is the shared state of the authorisation test.
type azFix struct {
	e    *env
	A, B *azWS
	a, b *http.Client // logged in as A and as B
}

func azKey(method, path string) string { return method + " " + path }

func azRoutes() map[string]azRoute {
	convForm := func(w *azWS) url.Values { return url.Values{} }
	return map[string]azRoute{
		// ---- public ----
		azKey("GET", "/healthz"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			if r := f.e.azDo(nil, "GET", p, nil); r.status != 200 {
				t.Errorf("healthz: %d", r.status)
			}
		}},
		azKey("GET", "/readyz"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			r := f.e.azDo(nil, "GET", p, nil)
			if r.status != 200 {
				t.Errorf("readyz: %d", r.status)
			}
			azNoLeak(t, "readyz", r.body, f.A)
		}},
		azKey("GET", "/static/*"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			if r := f.e.azDo(nil, "GET", "/static/app.js", nil); r.status != 200 {
				t.Errorf("static file: %d", r.status)
			}
			for _, bad := range []string{"/static/..%2fgo.mod", "/static/%2e%2e/%2e%2e/go.mod", "/static/nope.js"} {
				if r := f.e.azDo(nil, "GET", bad, nil); r.status != 404 {
					t.Errorf("%s: %d, want 404", bad, r.status)
				}
			}
		}},
		azKey("GET", "/metrics"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			// Without PARLEY_METRICS_TOKEN the route does not exist; with one, only its bearer
			// reads the metrics.
			if r := f.e.azDo(f.a, "GET", p, nil); r.status != 404 {
				t.Errorf("metrics without a token configured, to a dashboard session: %d", r.status)
			}
			old := f.e.App.Config.MetricsToken
			f.e.App.Config.MetricsToken = "metrics-token-0123456789"
			defer func() { f.e.App.Config.MetricsToken = old }()
			for _, hdr := range [][]string{nil, {"Authorization", "Bearer metrics-token-wrong"}, {"Authorization", "Bearer " + f.A.key}} {
				r := f.e.azDo(f.a, "GET", p, nil, hdr...)
				if r.status != 401 && r.status != 404 {
					t.Errorf("metrics with %q: %d, want 401", hdr, r.status)
				}
				azNoLeak(t, "metrics", r.body, f.A)
			}
		}},
		azKey("GET", "/webhooks/whatsapp"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			if r := f.e.azDo(nil, "GET", p+"?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1", nil); r.status != 403 {
				t.Errorf("verify with a wrong token: %d", r.status)
			}
		}},
		azKey("POST", "/webhooks/whatsapp"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			before := f.e.azSnapshot(0)
			body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
			for _, sig := range []string{"", "sha256=00", whatsapp.Sign("another-secret", body)} {
				r := f.e.azDo(nil, "POST", p, bytes.NewReader(body), "Content-Type", "application/json", whatsapp.SignatureHeader, sig)
				if r.status != 401 {
					t.Errorf("webhook signed %q: %d", sig, r.status)
				}
			}
			azSameSnapshot(t, "unsigned webhooks", before, f.e.azSnapshot(0))
		}},
		azKey("GET", "/widget/:key"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			if r := f.e.azDo(nil, "GET", "/widget/pa_nope", nil); r.status != 404 {
				t.Errorf("unknown widget: %d", r.status)
			}
			// Another visitor (any visitor id but the conversation's) gets the start form.
			r := f.e.azDo(nil, "GET", "/widget/"+f.A.assistant.PublicKey+"?visitor=visitor-zz-12345678", nil)
			if r.status != 200 {
				t.Errorf("widget page: %d", r.status)
			}
			// A visitor sees the assistant's public face, never its conversations or prompt.
			azNoLeak(t, "widget page", r.body, &azWS{convMark: f.A.convMark, marker: "secret prompt"})
		}},
		azKey("POST", "/widget/:key/session"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			before := f.e.azSnapshot(0)
			bTok := widget.StartToken(f.e.App.Keys.Signing, f.B.assistant, "visitor-12345678", time.Now())
			for _, tok := range []string{"", "garbage", bTok} {
				body, hdr := azForm(url.Values{"start_token": {tok}, "prechat.email": {"x@y.test"}})
				r := f.e.azDo(nil, "POST", p, body, hdr...)
				if r.status != 403 {
					t.Errorf("widget start with token %.10q: %d", tok, r.status)
				}
			}
			azSameSnapshot(t, "widget starts without a valid token", before, f.e.azSnapshot(0))
		}},
		azKey("POST", "/widget/:key/messages"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			before := f.e.azSnapshot(0)
			bTok := widget.SessionToken(f.e.App.Keys.Signing, f.B.convs[model.TypeWidget], time.Now())
			for tok, want := range map[string]int{"": 401, "garbage": 401, bTok: 404} {
				body, hdr := azForm(url.Values{"token": {tok}, "text": {"hijack"}})
				r := f.e.azDo(nil, "POST", p, body, append(hdr, "HX-Request", "true")...)
				if r.status != want {
					t.Errorf("widget send with token %.10q: %d, want %d", tok, r.status, want)
				}
				azNoLeak(t, "widget send", r.body, f.A)
			}
			azSameSnapshot(t, "widget sends without a valid token", before, f.e.azSnapshot(0))
		}},
		azKey("GET", "/widget/:key/reply/:msg"): {class: azPublic, check: func(t *testing.T, f *azFix, _ string) {
			msg := f.A.userMsg[model.TypeWidget]
			p := "/widget/" + f.A.assistant.PublicKey + "/reply/" + strconv.FormatInt(msg, 10)
			bTok := widget.ReplyToken(f.e.App.Keys.Signing, f.B.convs[model.TypeWidget], msg, time.Now())
			for tok, want := range map[string]int{"": 401, bTok: 404} {
				r := f.e.azDo(nil, "GET", p+"?token="+url.QueryEscape(tok), nil)
				if r.status != want {
					t.Errorf("widget reply with token %.10q: %d, want %d", tok, r.status, want)
				}
				azNoLeak(t, "widget reply", r.body, f.A)
			}
		}},
		azKey("GET", "/api/widget/v1/assistants/:key"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			if r := f.e.azDo(nil, "GET", "/api/widget/v1/assistants/pa_nope", nil); r.status != 404 {
				t.Errorf("unknown assistant: %d", r.status)
			}
			r := f.e.azDo(nil, "GET", p, nil)
			if r.status != 200 {
				t.Errorf("widget assistant: %d", r.status)
			}
			azNoLeak(t, "widget assistant", r.body, &azWS{convMark: f.A.convMark, marker: "secret prompt"})
		}},
		azKey("OPTIONS", "/api/widget/v1/assistants/:key"):       {class: azPublic, check: azEvilPreflight},
		azKey("OPTIONS", "/api/widget/v1/sessions"):              {class: azPublic, check: azEvilPreflight},
		azKey("OPTIONS", "/api/widget/v1/sessions/:id/messages"): {class: azPublic, owner: "conv:widget", check: azEvilPreflight},
		azKey("POST", "/api/widget/v1/sessions"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			before := f.e.azSnapshot(0)
			r := f.e.azDo(nil, "POST", p, strings.NewReader(`{"assistant":"pa_nope","variables":{"email":"a@b.test"}}`), "Content-Type", "application/json")
			if r.status != 404 {
				t.Errorf("session of an unknown assistant: %d", r.status)
			}
			azSameSnapshot(t, "refused widget session", before, f.e.azSnapshot(0))
		}},
		azKey("GET", "/api/widget/v1/sessions/:id/messages"): {class: azPublic, owner: "conv:widget", check: func(t *testing.T, f *azFix, p string) {
			bTok := widget.SessionToken(f.e.App.Keys.Signing, f.B.convs[model.TypeWidget], time.Now())
			for tok, want := range map[string]int{"": 401, "garbage": 401, bTok: 404} {
				hdr := []string{}
				if tok != "" {
					hdr = []string{"Authorization", "Bearer " + tok}
				}
				r := f.e.azDo(nil, "GET", p, nil, hdr...)
				if r.status != want {
					t.Errorf("widget history with token %.10q: %d, want %d", tok, r.status, want)
				}
				azNoLeak(t, "widget history", r.body, f.A)
			}
			// The positive control: A's own token reads A's conversation.
			aTok := widget.SessionToken(f.e.App.Keys.Signing, f.A.convs[model.TypeWidget], time.Now())
			if r := f.e.azDo(nil, "GET", p, nil, "Authorization", "Bearer "+aTok); r.status != 200 || !strings.Contains(r.body, f.A.convMark) {
				t.Errorf("widget history with its own token: %d", r.status)
			}
		}},
		azKey("POST", "/api/widget/v1/sessions/:id/messages"): {class: azPublic, owner: "conv:widget", check: func(t *testing.T, f *azFix, p string) {
			before := f.e.azSnapshot(0)
			bTok := widget.SessionToken(f.e.App.Keys.Signing, f.B.convs[model.TypeWidget], time.Now())
			for tok, want := range map[string]int{"": 401, bTok: 404} {
				hdr := []string{"Content-Type", "application/json"}
				if tok != "" {
					hdr = append(hdr, "Authorization", "Bearer "+tok)
				}
				r := f.e.azDo(nil, "POST", p, strings.NewReader(`{"text":"hijack"}`), hdr...)
				if r.status != want {
					t.Errorf("widget send with token %.10q: %d, want %d", tok, r.status, want)
				}
				azNoLeak(t, "widget send", r.body, f.A)
			}
			azSameSnapshot(t, "widget API sends without a valid token", before, f.e.azSnapshot(0))
		}},
		// issue 14: verdict
		azKey("OPTIONS", "/api/widget/v1/sessions/:id/end"):                    {class: azPublic, owner: "conv:widget", check: azEvilPreflight},
		azKey("OPTIONS", "/api/widget/v1/sessions/:id/csat"):                   {class: azPublic, owner: "conv:widget", check: azEvilPreflight},
		azKey("OPTIONS", "/api/widget/v1/sessions/:id/messages/:msg/feedback"): {class: azPublic, owner: "conv:widget", check: azEvilPreflight},
		azKey("POST", "/api/widget/v1/sessions/:id/end"):                       {class: azPublic, owner: "conv:widget", check: azWidgetVerdict(`{}`)},
		azKey("POST", "/api/widget/v1/sessions/:id/csat"):                      {class: azPublic, owner: "conv:widget", check: azWidgetVerdict(`{"score":1}`)},
		azKey("POST", "/api/widget/v1/sessions/:id/messages/:msg/feedback"):    {class: azPublic, owner: "conv:widget", check: azWidgetVerdict(`{"rating":"down"}`)},
		azKey("POST", "/widget/:key/end"):                                      {class: azPublic, check: azWidgetFrameVerdict(url.Values{})},
		azKey("POST", "/widget/:key/csat"):                                     {class: azPublic, check: azWidgetFrameVerdict(url.Values{"score": {"1"}})},
		azKey("POST", "/widget/:key/messages/:msg/feedback"):                   {class: azPublic, check: azWidgetFrameVerdict(url.Values{"rating": {"down"}})},
		azKey("GET", "/"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			if r := f.e.azDo(nil, "GET", p, nil); r.status != 303 || r.header.Get("Location") != "/conversations" {
				t.Errorf("home: %d %q", r.status, r.header.Get("Location"))
			}
		}},
		// An invite link: its page and its acceptance need no login, and never redirect to
		// one; an unknown token is 404; another account (B's) is refused and changes nothing.
		azKey("GET", "/invite/:token"): {class: azPublic, check: func(t *testing.T, f *azFix, _ string) {
			p := "/invite/" + f.A.inviteTok
			if r := f.e.azDo(nil, "GET", p, nil); r.status != 200 || !strings.Contains(r.body, f.A.ws.Name) || !strings.Contains(r.body, "Agent") {
				t.Errorf("invite page: %d", r.status)
			}
			if r := f.e.azDo(nil, "GET", "/invite/UNKNOWNTOKEN", nil); r.status != 404 || r.header.Get("Location") != "" {
				t.Errorf("unknown invite: %d %q", r.status, r.header.Get("Location"))
			}
			if r := f.e.azDo(f.b, "GET", p, nil); r.status != 200 || !strings.Contains(r.body, "but this invite is for") {
				t.Errorf("invite page, signed in as B: %d", r.status)
			}
		}},
		azKey("POST", "/invite/:token"): {class: azPublic, check: func(t *testing.T, f *azFix, _ string) {
			p := "/invite/" + f.A.inviteTok
			all := f.e.azSnapshot(0)
			body, hdr := azForm(url.Values{"name": {"Mallory"}, "password": {"long-enough"}})
			if r := f.e.azDo(nil, "POST", p, body, hdr...); r.status != 403 {
				t.Errorf("accept without CSRF: %d", r.status)
			}
			body, hdr = azForm(url.Values{"_csrf": {f.e.CSRF(f.b, "/assistants/new")}})
			if r := f.e.azDo(f.b, "POST", p, body, hdr...); r.status != 403 || !strings.Contains(r.body, "invitee-"+f.A.email) {
				t.Errorf("accept as B: %d", r.status)
			}
			c := f.e.Client()
			body, hdr = azForm(url.Values{"_csrf": {f.e.CSRF(c, "/login")}, "name": {"Mallory"}, "password": {"long-enough"}})
			if r := f.e.azDo(c, "POST", "/invite/UNKNOWNTOKEN", body, hdr...); r.status != 404 {
				t.Errorf("accept an unknown invite: %d", r.status)
			}
			azSameSnapshot(t, "refused accepts", all, f.e.azSnapshot(0))
		}},
		azKey("GET", "/login"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			r := f.e.azDo(nil, "GET", p, nil)
			if r.status != 200 {
				t.Errorf("login page: %d", r.status)
			}
			azNoLeak(t, "login page", r.body, f.A)
		}},
		azKey("POST", "/login"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			body, hdr := azForm(url.Values{"email": {f.A.email}, "password": {"correct-horse"}})
			if r := f.e.azDo(nil, "POST", p, body, hdr...); r.status != 403 || r.header.Get("Set-Cookie") != "" && strings.Contains(r.header.Get("Set-Cookie"), "parley_session") {
				t.Errorf("login without CSRF: %d %q", r.status, r.header.Get("Set-Cookie"))
			}
			c := f.e.Client()
			tok := f.e.CSRF(c, "/login")
			body, hdr = azForm(url.Values{"_csrf": {tok}, "email": {f.A.email}, "password": {"wrong-horse"}})
			if r := f.e.azDo(c, "POST", p, body, hdr...); r.status != 401 {
				t.Errorf("login with a wrong password: %d", r.status)
			}
			if r := f.e.azDo(c, "GET", "/conversations", nil); r.status != 303 {
				t.Errorf("a failed login gives no session: %d", r.status)
			}
		}},
		azKey("POST", "/logout"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			// Without the token, a cross-site POST cannot end the session.
			if r := f.e.azDo(f.a, "POST", p, nil); r.status != 403 {
				t.Errorf("logout without CSRF: %d", r.status)
			}
			if r := f.e.azDo(f.a, "GET", "/conversations", nil); r.status != 200 {
				t.Errorf("the session survives a logout without CSRF: %d", r.status)
			}
		}},
		// Sign-up is closed here (PARLEY_OPEN_SIGNUP unset): 404, and nothing is created.
		azKey("GET", "/signup"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			if r := f.e.azDo(nil, "GET", p, nil); r.status != 404 {
				t.Errorf("a closed sign-up page: %d", r.status)
			}
		}},
		azKey("POST", "/signup"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			before := f.e.azSnapshot(0)
			c := f.e.Client()
			b, h := azForm(url.Values{"_csrf": {f.e.CSRF(c, "/login")}, "workspace": {"X"}, "email": {"x@x.test"}, "password": {"password-123"}, "password_confirm": {"password-123"}})
			if r := f.e.azDo(c, "POST", p, b, h...); r.status != 404 {
				t.Errorf("a closed sign-up: %d", r.status)
			}
			azSameSnapshot(t, "closed sign-up", before, f.e.azSnapshot(0))
		}},
		azKey("GET", "/setup"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			if r := f.e.azDo(nil, "GET", p, nil); r.status != 303 || r.header.Get("Location") != "/login" {
				t.Errorf("setup once a user exists: %d %q", r.status, r.header.Get("Location"))
			}
		}},
		azKey("POST", "/setup"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			before := f.e.azSnapshot(0)
			c := f.e.Client()
			tok := f.e.CSRF(c, "/login")
			body, hdr := azForm(url.Values{"_csrf": {tok}, "workspace": {"Takeover"}, "email": {"mallory@evil.test"}, "password": {"12345678"}, "password_confirm": {"12345678"}})
			if r := f.e.azDo(c, "POST", p, body, hdr...); r.status != 409 {
				t.Errorf("setup once a user exists: %d", r.status)
			}
			if r := f.e.azDo(c, "GET", "/conversations", nil); r.status != 303 {
				t.Errorf("a refused setup gives no session: %d", r.status)
			}
			azSameSnapshot(t, "refused setup", before, f.e.azSnapshot(0))
		}},
		// Password reset: no login, CSRF on posts; a link that does not work is a 404 page,
		// never a login redirect. (Mail is not configured here: /reset sends nothing.)
		azKey("GET", "/reset"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			r := f.e.azDo(nil, "GET", p, nil)
			if r.status != 200 {
				t.Errorf("reset page: %d", r.status)
			}
			azNoLeak(t, "reset page", r.body, f.A)
		}},
		azKey("POST", "/reset"): {class: azPublic, check: func(t *testing.T, f *azFix, p string) {
			before := f.e.azSnapshot(0)
			body, hdr := azForm(url.Values{"email": {f.A.email}})
			if r := f.e.azDo(nil, "POST", p, body, hdr...); r.status != 403 {
				t.Errorf("reset request without CSRF: %d", r.status)
			}
			c := f.e.Client()
			body, hdr = azForm(url.Values{"_csrf": {f.e.CSRF(c, "/login")}, "email": {f.A.email}})
			if r := f.e.azDo(c, "POST", p, body, hdr...); r.status != 200 {
				t.Errorf("reset request: %d", r.status)
			}
			azSameSnapshot(t, "reset requests without mail", before, f.e.azSnapshot(0))
		}},
		azKey("GET", "/reset/:token"): {class: azPublic, check: func(t *testing.T, f *azFix, _ string) {
			for _, c := range []*http.Client{nil, f.a} {
				r := f.e.azDo(c, "GET", "/reset/UNKNOWNTOKEN", nil)
				if r.status != 404 || r.header.Get("Location") != "" || !strings.Contains(r.body, "reset-invalid") {
					t.Errorf("unknown reset link: %d %q", r.status, r.header.Get("Location"))
				}
				azNoLeak(t, "reset link page", r.body, f.A)
			}
		}},
		azKey("POST", "/reset/:token"): {class: azPublic, check: func(t *testing.T, f *azFix, _ string) {
			before := f.e.azSnapshot(0)
			form := url.Values{"new_password": {"hijacked-pw"}, "new_password_confirm": {"hijacked-pw"}}
			body, hdr := azForm(form)
			if r := f.e.azDo(nil, "POST", "/reset/UNKNOWNTOKEN", body, hdr...); r.status != 403 {
				t.Errorf("reset without CSRF: %d", r.status)
			}
			c := f.e.Client()
			form.Set("_csrf", f.e.CSRF(c, "/login"))
			body, hdr = azForm(form)
			if r := f.e.azDo(c, "POST", "/reset/UNKNOWNTOKEN", body, hdr...); r.status != 404 {
				t.Errorf("reset with an unknown link: %d", r.status)
			}
			azSameSnapshot(t, "refused resets", before, f.e.azSnapshot(0))
		}},

		// ---- dashboard ----
		// Your account: B taking A's email is a conflict (409); A's control saves its own.
		azKey("GET", "/settings/account"): {class: azDashboard},
		azKey("POST", "/settings/account"): {class: azDashboard, cross: 409, form: func(w *azWS) url.Values {
			return url.Values{"name": {"Renamed"}, "email": {w.email}}
		}},
		// B "changes" its password to the same one (its own account: 303).
		azKey("POST", "/settings/account/password"): {class: azDashboard, form: func(*azWS) url.Values {
			return url.Values{"current_password": {"correct-horse"}, "new_password": {"correct-horse"}, "new_password_confirm": {"correct-horse"}}
		}},
		azKey("GET", "/conversations"):                    {class: azDashboard},
		azKey("GET", "/conversations/events"):             {class: azDashboard},
		azKey("GET", "/conversations/export.csv"):         {class: azDashboard},
		azKey("GET", "/conversations/export.jsonl"):       {class: azDashboard, query: "messages=1"},
		azKey("POST", "/conversations/bulk-delete"):       {class: azDashboard, query: "type=test", form: convForm},
		azKey("GET", "/conversations/bulk-delete/:job"):   {class: azDashboard, owner: "job"},
		azKey("GET", "/conversations/:id"):                {class: azDashboard, owner: "conv:whatsapp"},
		azKey("GET", "/conversations/:id/messages"):       {class: azDashboard, owner: "conv:widget"},
		azKey("GET", "/conversations/:id/events"):         {class: azDashboard, owner: "conv:widget"},
		azKey("POST", "/conversations/:id/delete"):        {class: azDashboard, owner: "conv:widget", form: convForm, destructive: true},
		azKey("POST", "/conversations/:id/whatsapp/send"): {class: azDashboard, owner: "conv:whatsapp", form: func(*azWS) url.Values { return url.Values{"content": {"hijack"}} }},
		azKey("POST", "/conversations/:id/ai"):            {class: azDashboard, owner: "conv:whatsapp", form: func(*azWS) url.Values { return url.Values{"enabled": {"0"}} }},
		azKey("POST", "/conversations/:id/extract"):       {class: azDashboard, owner: "conv:test", form: convForm},
		azKey("GET", "/conversations/:id/export.json"):    {class: azDashboard, owner: "conv:test"},
		// issue 14: views. B renames and deletes only its own workspace's views (A's: 404).
		azKey("POST", "/conversations/views"):                    {class: azDashboard, form: func(*azWS) url.Values { return url.Values{"name": {"Mine"}, "query": {"outcome=resolved"}} }},
		azKey("POST", "/conversations/views/:id/rename"):         {class: azDashboard, owner: "view", form: func(*azWS) url.Values { return url.Values{"name": {"hijacked"}} }},
		azKey("POST", "/conversations/views/:id/delete"):         {class: azDashboard, owner: "view", form: convForm, destructive: true},
		azKey("POST", "/settings/whatsapp-templates/:id/delete"): {class: azDashboard, owner: "template", form: convForm, destructive: true},
		azKey("POST", "/settings/api-keys/:id/revoke"):           {class: azDashboard, owner: "apikey", form: convForm, destructive: true},
		azKey("GET", "/test-chat/:id"):                           {class: azDashboard, owner: "conv:test"},
		azKey("POST", "/test-chat/:id/messages"):                 {class: azDashboard, owner: "conv:test", form: func(*azWS) url.Values { return url.Values{"text": {"hijack"}} }},
		azKey("GET", "/test-chat/:id/reply/:msg"):                {class: azDashboard, owner: "conv:test"},
		azKey("GET", "/assistants/:id"):                          {class: azDashboard, owner: "assistant"},
		azKey("POST", "/assistants/:id"):                         {class: azDashboard, owner: "assistant", destructive: true, form: func(*azWS) url.Values { return url.Values{"name": {"hijacked"}, "model": {"gpt-4o-mini"}} }},
		azKey("POST", "/assistants/:id/identity-secret"):         {class: azDashboard, owner: "assistant", destructive: true}, // admins only: a member's 403 is in dashboard
		azKey("POST", "/assistants/:id/delete"):                  {class: azDashboard, owner: "assistant", form: convForm, destructive: true},
		azKey("GET", "/test-chat"):                               {class: azDashboard},
		azKey("GET", "/settings"):                                {class: azDashboard},
		azKey("GET", "/analytics"):                               {class: azDashboard},
		azKey("GET", "/analytics/export.csv"):                    {class: azDashboard, query: "chart=top"},
		azKey("GET", "/assistants"):                              {class: azDashboard},
		azKey("GET", "/assistants/new"):                          {class: azDashboard},
		azKey("GET", "/assistants/variable-row"):                 {class: azDashboard},
		azKey("GET", "/assistants/prechat-row"):                  {class: azDashboard},
		azKey("POST", "/settings/api-keys"):                      {class: azDashboard, form: func(*azWS) url.Values { return url.Values{"name": {"new key"}} }},
		azKey("POST", "/settings/retention"):                     {class: azDashboard, form: func(*azWS) url.Values { return url.Values{"test": {"30"}} }},
		azKey("POST", "/settings/prices"):                        {class: azDashboard, form: func(*azWS) url.Values { return url.Values{"prices": {""}} }},
		// The workspace's admins read its own log (a member's 403 is in dashboard's audit tests).
		azKey("GET", "/settings/audit-log"):            {class: azDashboard},
		azKey("GET", "/settings/audit-log/export.csv"): {class: azDashboard},
		// A user ends only their own sessions; "log out everywhere" ends all of them, the
		// caller's included (so it runs last, and B logs in again after it).
		azKey("POST", "/settings/sessions/:id/revoke"): {class: azDashboard, owner: "session", form: convForm, destructive: true},
		azKey("POST", "/settings/sessions/revoke-all"): {class: azDashboard, form: convForm, destructive: true},
		azKey("POST", "/assistants"):                   {class: azDashboard, form: func(*azWS) url.Values { return url.Values{"name": {"New bot"}, "model": {"gpt-4o-mini"}} }},
		// Workspaces and members: B cannot switch to A's workspace, nor change or remove A's
		// members; creating a workspace is the installation admin's (A), not B's; leaving is
		// refused to a last owner (409), B and A alike.
		azKey("POST", "/workspaces/switch"): {class: azDashboard, cross: 404, form: func(w *azWS) url.Values {
			return url.Values{"workspace_id": {strconv.FormatInt(w.ws.ID, 10)}}
		}},
		azKey("GET", "/workspaces/new"):               {class: azDashboard, cross: 403},
		azKey("POST", "/workspaces"):                  {class: azDashboard, cross: 403, form: func(*azWS) url.Values { return url.Values{"name": {"Third"}} }},
		azKey("GET", "/settings/members"):             {class: azDashboard},
		azKey("POST", "/settings/members/:id/role"):   {class: azDashboard, owner: "member", form: func(*azWS) url.Values { return url.Values{"role": {"viewer"}} }},
		azKey("POST", "/settings/members/:id/remove"): {class: azDashboard, owner: "member", form: convForm, destructive: true},
		azKey("POST", "/settings/members/leave"):      {class: azDashboard, cross: 409, form: convForm},
		// Invites: B invites to its own workspace only, and cannot revoke A's (404).
		azKey("POST", "/settings/invites"):            {class: azDashboard, form: func(*azWS) url.Values { return url.Values{"email": {"new-invitee@x.test"}, "role": {"agent"}} }},
		azKey("POST", "/settings/invites/:id/revoke"): {class: azDashboard, owner: "invite", form: convForm, destructive: true},
		// Deleting a workspace needs its name typed: A's name, typed by B, is a wrong one for
		// B's workspace (422, nothing deleted).
		azKey("POST", "/settings/workspace/delete"): {class: azDashboard, cross: 422, form: func(w *azWS) url.Values { return url.Values{"confirm": {w.ws.Name + " (not quite)"}} }},
		// Routes whose form names the other workspace's objects: refused, nothing changed.
		azKey("POST", "/test-chat/sessions"): {class: azDashboard, cross: 400, form: func(w *azWS) url.Values {
			return url.Values{"assistant_id": {strconv.FormatInt(w.assistant.ID, 10)}, "prechat.email": {"x@y.test"}}
		}},
		azKey("POST", "/settings/whatsapp-templates"): {class: azDashboard, cross: 422, form: func(w *azWS) url.Values {
			return url.Values{"assistant_id": {strconv.FormatInt(w.assistant.ID, 10)}, "name": {"hijack"}, "language": {"en"}, "category": {"UTILITY"}, "body": {"Hi {{1}}"}}
		}},
		azKey("POST", "/settings/whatsapp-templates/waba"): {class: azDashboard, cross: 404, form: func(w *azWS) url.Values {
			return url.Values{"assistant_id": {strconv.FormatInt(w.assistant.ID, 10)}, "waba_id": {"123"}}
		}},
		azKey("POST", "/settings/whatsapp-templates/fetch"): {class: azDashboard, cross: 404, form: func(w *azWS) url.Values {
			return url.Values{"assistant_id": {strconv.FormatInt(w.assistant.ID, 10)}}
		}},

		// ---- admin (the asynq queues are the installation's, not a workspace's) ----
		azKey("GET", "/queues"):                 {class: azAdmin},
		azKey("GET", "/queues/:queue"):          {class: azAdmin},
		azKey("POST", "/queues/:queue/run"):     {class: azAdmin, form: convForm},
		azKey("POST", "/queues/:queue/archive"): {class: azAdmin, form: convForm},
		azKey("POST", "/queues/:queue/delete"):  {class: azAdmin, form: convForm},
		azKey("POST", "/queues/:queue/pause"):   {class: azAdmin, form: convForm},
		azKey("POST", "/queues/:queue/resume"):  {class: azAdmin, form: convForm},

		// ---- API ----
		azKey("GET", "/api/v1/me"):                   {class: azAPI},
		azKey("GET", "/api/v1/conversations"):        {class: azAPI},
		azKey("GET", "/api/v1/conversations/:id"):    {class: azAPI, owner: "conv:whatsapp"},
		azKey("DELETE", "/api/v1/conversations/:id"): {class: azAPI, owner: "conv:test", destructive: true},
		azKey("GET", "/api/v1/assistants"):           {class: azAPI},
		azKey("POST", "/api/v1/assistants"):          {class: azAPI, json: `{"name":"API bot","model":"gpt-4o-mini"}`},
		azKey("GET", "/api/v1/assistants/:id"):       {class: azAPI, owner: "assistant"},
		azKey("PATCH", "/api/v1/assistants/:id"):     {class: azAPI, owner: "spare", json: `{"name":"hijacked"}`},
		azKey("DELETE", "/api/v1/assistants/:id"):    {class: azAPI, owner: "spare", destructive: true},
		azKey("POST", "/api/v1/invites"):             {class: azAPI, json: `{"email":"api-invitee@x.test","role":"viewer"}`},
		azKey("GET", "/api/v1/audit-log"):            {class: azAPI},
		// issue 14: ends
		azKey("POST", "/api/v1/conversations/:id/end"): {class: azAPI, owner: "conv:whatsapp"},
		azKey("POST", "/conversations/:id/end"):        {class: azDashboard, owner: "conv:widget", form: convForm},
		azKey("POST", "/test-chat/:id/close"):          {class: azDashboard, owner: "conv:test", form: convForm},
		// issue 14: review. Each conversation's review is its workspace's; tags are managed by
		// the workspace's admins.
		azKey("POST", "/conversations/:id/review"):                          {class: azDashboard, owner: "conv:test", form: func(*azWS) url.Values { return url.Values{"status": {"flagged"}} }},
		azKey("POST", "/conversations/:id/tags"):                            {class: azDashboard, owner: "conv:test", form: func(*azWS) url.Values { return url.Values{"tag": {"hijack"}} }},
		azKey("POST", "/conversations/:id/tags/remove"):                     {class: azDashboard, owner: "conv:test", form: func(w *azWS) url.Values { return url.Values{"tag": {"Tag " + w.marker}} }},
		azKey("POST", "/conversations/:id/notes"):                           {class: azDashboard, owner: "conv:test", form: func(*azWS) url.Values { return url.Values{"text": {"hijack"}} }},
		azKey("POST", "/conversations/:id/messages/:msg/correction"):        {class: azDashboard, owner: "conv:test", form: func(*azWS) url.Values { return url.Values{"text": {"hijack"}} }},
		azKey("POST", "/conversations/:id/messages/:msg/correction/delete"): {class: azDashboard, owner: "conv:test", form: convForm},
		azKey("GET", "/settings/tags"):                                      {class: azDashboard},
		azKey("POST", "/settings/tags"):                                     {class: azDashboard, form: func(*azWS) url.Values { return url.Values{"name": {"New tag"}} }},
		azKey("POST", "/settings/tags/:id"):                                 {class: azDashboard, owner: "tag", form: func(*azWS) url.Values { return url.Values{"name": {"hijacked"}, "color": {"blue"}} }},
		azKey("POST", "/settings/tags/:id/delete"):                          {class: azDashboard, owner: "tag", form: convForm, destructive: true},
		azKey("PUT", "/api/v1/conversations/:id/review"):                    {class: azAPI, owner: "conv:test", json: `{"status":"flagged"}`},
		azKey("POST", "/api/v1/conversations/:id/tags"):                     {class: azAPI, owner: "conv:test", json: `{"tag":"hijack"}`},
		azKey("DELETE", "/api/v1/conversations/:id/tags"):                   {class: azAPI, owner: "conv:test", json: `{"tag":"hijack"}`},
		azKey("POST", "/api/v1/conversations/:id/notes"):                    {class: azAPI, owner: "conv:test", json: `{"text":"hijack"}`},

		// issue 14: evaluators
		azKey("POST", "/conversations/:id/evaluate"):        {class: azDashboard, owner: "conv:widget", form: convForm},
		azKey("GET", "/conversations/bulk-evaluate"):        {class: azDashboard, query: "type=test"},
		azKey("POST", "/conversations/bulk-evaluate"):       {class: azDashboard, query: "type=test", form: convForm},
		azKey("GET", "/conversations/bulk-evaluate/:job"):   {class: azDashboard, owner: "job"},
		azKey("GET", "/assistants/evaluator-row"):           {class: azDashboard},
		azKey("POST", "/api/v1/conversations/:id/evaluate"): {class: azAPI, owner: "conv:widget"},

		// issue 15: versions
		azKey("GET", "/assistants/:id/versions"):           {class: azDashboard, owner: "assistant"},
		azKey("GET", "/assistants/:id/versions/compare"):   {class: azDashboard, owner: "assistant", query: "a=1&b=1"},
		azKey("POST", "/assistants/:id/publish"):           {class: azDashboard, owner: "assistant", destructive: true, form: func(*azWS) url.Values { return url.Values{"version": {"1"}} }},
		azKey("GET", "/api/v1/assistants/:id/versions"):    {class: azAPI, owner: "assistant"},
		azKey("GET", "/api/v1/assistants/:id/versions/:n"): {class: azAPI, owner: "assistant"},
		azKey("POST", "/api/v1/assistants/:id/publish"):    {class: azAPI, owner: "spare", json: `{"version":1}`},
		// issue 15: replays
		azKey("POST", "/conversations/:id/replays"):        {class: azDashboard, owner: "conv:widget", form: func(*azWS) url.Values { return url.Values{"version": {"1"}} }},
		azKey("GET", "/replays/:id"):                       {class: azDashboard, owner: "replay"},
		azKey("POST", "/api/v1/conversations/:id/replays"): {class: azAPI, owner: "conv:widget", json: `{"version":1}`},
		azKey("GET", "/api/v1/replays/:id"):                {class: azAPI, owner: "replay"},
		// issue 15: test sets. A set and its cases are their workspace's; an id of another
		// workspace's assistant or set in a field is refused (422) and changes nothing.
		azKey("GET", "/api/v1/test-sets"): {class: azAPI},
		azKey("POST", "/api/v1/test-sets"): {class: azAPI, cross: 422,
			jsonFor: func(w *azWS) string {
				return `{"name":"hijack api","assistant_id":` + strconv.FormatInt(w.assistant.ID, 10) + `}`
			}},
		azKey("GET", "/api/v1/test-sets/:id"):    {class: azAPI, owner: "testset"},
		azKey("PATCH", "/api/v1/test-sets/:id"):  {class: azAPI, owner: "testset", json: `{"name":"hijacked"}`},
		azKey("DELETE", "/api/v1/test-sets/:id"): {class: azAPI, owner: "testset:spare", destructive: true},
		azKey("POST", "/api/v1/test-sets/:id/cases"): {class: azAPI, owner: "testset",
			jsonFor: func(w *azWS) string {
				return `{"conversation_id":` + strconv.FormatInt(w.convs[model.TypeWhatsApp].ID, 10) + `}`
			}},
		azKey("DELETE", "/api/v1/test-sets/:id/cases/:case"): {class: azAPI, owner: "testset", destructive: true},
		azKey("GET", "/test-sets"):                           {class: azDashboard},
		azKey("POST", "/test-sets"): {class: azDashboard, cross: 422,
			form: func(w *azWS) url.Values {
				return url.Values{"name": {"hijack"}, "assistant_id": {strconv.FormatInt(w.assistant.ID, 10)}}
			}},
		azKey("GET", "/test-sets/:id"):                     {class: azDashboard, owner: "testset"},
		azKey("POST", "/test-sets/:id/rename"):             {class: azDashboard, owner: "testset", form: func(*azWS) url.Values { return url.Values{"name": {"hijacked"}} }},
		azKey("POST", "/test-sets/:id/delete"):             {class: azDashboard, owner: "testset:spare2", form: convForm, destructive: true},
		azKey("POST", "/test-sets/:id/cases/:case/delete"): {class: azDashboard, owner: "testset:case2", form: convForm, destructive: true},
		azKey("POST", "/conversations/:id/test-set"): {class: azDashboard, owner: "conv:whatsapp",
			form: func(w *azWS) url.Values { return url.Values{"test_set_id": {strconv.FormatInt(w.testSet, 10)}} }},
		azKey("GET", "/conversations/bulk-test-set"): {class: azDashboard, query: "type=test"},
		azKey("POST", "/conversations/bulk-test-set"): {class: azDashboard, query: "type=test", cross: 422,
			form: func(w *azWS) url.Values { return url.Values{"test_set_id": {strconv.FormatInt(w.testSet, 10)}} }},
		// issue 15: test set runs
		azKey("POST", "/api/v1/test-sets/:id/runs"):       {class: azAPI, owner: "trset", json: `{"version": 1}`},
		azKey("GET", "/api/v1/test-set-runs/:id"):         {class: azAPI, owner: "trrun"},
		azKey("GET", "/api/v1/test-set-runs/:id/compare"): {class: azAPI, owner: "trrun"},
		azKey("GET", "/test-sets/:id/runs"):               {class: azDashboard, owner: "trset"},
		azKey("POST", "/test-sets/:id/runs"):              {class: azDashboard, owner: "trset", form: func(*azWS) url.Values { return url.Values{"version": {"1"}} }},
		azKey("GET", "/test-set-runs/:id"):                {class: azDashboard, owner: "trrun"},
		azKey("GET", "/test-set-runs/:id/compare"):        {class: azDashboard, owner: "trrun"},
	}
}

// azWidgetVerdict checks a widget verdict route (end, feedback, CSAT) of A's widget
// conversation: without a token, or with B's, it is refused and nothing changes.
func azWidgetVerdict(body string) func(t *testing.T, f *azFix, p string) {
	return func(t *testing.T, f *azFix, p string) {
		before := f.e.azSnapshot(0)
		bTok := widget.SessionToken(f.e.App.Keys.Signing, f.B.convs[model.TypeWidget], time.Now())
		for tok, want := range map[string]int{"": 401, "garbage": 401, bTok: 404} {
			hdr := []string{"Content-Type", "application/json"}
			if tok != "" {
				hdr = append(hdr, "Authorization", "Bearer "+tok)
			}
			r := f.e.azDo(nil, "POST", p, strings.NewReader(body), hdr...)
			if r.status != want {
				t.Errorf("widget verdict %s with token %.10q: %d, want %d", p, tok, r.status, want)
			}
			azNoLeak(t, "widget verdict", r.body, f.A)
		}
		azSameSnapshot(t, "widget verdict without a valid token", before, f.e.azSnapshot(0))
	}
}

// azWidgetFrameVerdict checks an iframe verdict route (end, feedback, CSAT) of A's page:
// without a session token, or with B's, it is refused and nothing changes.
func azWidgetFrameVerdict(form url.Values) func(t *testing.T, f *azFix, p string) {
	return func(t *testing.T, f *azFix, p string) {
		before := f.e.azSnapshot(0)
		bTok := widget.SessionToken(f.e.App.Keys.Signing, f.B.convs[model.TypeWidget], time.Now())
		for tok, want := range map[string]int{"": 401, "garbage": 401, bTok: 404} {
			v := url.Values{"token": {tok}}
			for k, vs := range form {
				v[k] = vs
			}
			body, hdr := azForm(v)
			r := f.e.azDo(nil, "POST", p, body, append(hdr, "HX-Request", "true")...)
			if r.status != want {
				t.Errorf("widget frame verdict %s with token %.10q: %d, want %d", p, tok, r.status, want)
			}
			azNoLeak(t, "widget frame verdict", r.body, f.A)
		}
		azSameSnapshot(t, "widget frame verdict without a valid token", before, f.e.azSnapshot(0))
	}
}

func azEvilPreflight(t *testing.T, f *azFix, p string) {
	r := f.e.azDo(nil, "OPTIONS", p, nil, "Origin", "https://evil.example.com", "Access-Control-Request-Method", "POST")
	if r.status != 403 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from a foreign origin: %d %q", r.status, r.header.Get("Access-Control-Allow-Origin"))
	}
	r = f.e.azDo(nil, "OPTIONS", p, nil, "Origin", "https://shop.example.com", "Access-Control-Request-Method", "POST")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" {
		t.Errorf("preflight from the allowed origin: %d", r.status)
	}
}

// azSafe reports methods that change nothing.
func azSafe(method string) bool { return method == "GET" || method == "HEAD" || method == "OPTIONS" }

func TestAuthorisationOfEveryRoute(t *testing.T) {
	e := &env{webtest.WhEnv(t, testkit.Config(t))}
	f := &azFix{e: e, A: e.azWorkspace("A", "1000001"), B: e.azWorkspace("B", "1000002")}
	f.a, f.b = e.Client(), e.Client()
	e.Login(f.a, f.A.email, "correct-horse")
	e.Login(f.b, f.B.email, "correct-horse")
	csrfA, csrfB := e.CSRF(f.a, "/assistants/new"), e.CSRF(f.b, "/assistants/new")
	// A user who is not an admin.
	e.User("carol@c.test", "correct-horse")
	if _, err := e.App.Store.DB.NewUpdate().Table("users").Set("role = ?", "member").Where("email = ?", "carol@c.test").Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	member := e.Client()
	e.Login(member, "carol@c.test", "correct-horse")
	csrfMember := e.CSRF(member, "/assistants/new")

	table := azRoutes()
	type route struct {
		method, path, name string
		spec               azRoute
	}
	var routes []route
	seen := map[string]bool{}
	for _, r := range web.New(e.App).Echo().Routes() {
		if r.Method == echo.RouteNotFound {
			continue // a group's catch-all: answers 404 through the group's middleware
		}
		k := azKey(r.Method, r.Path)
		if strings.HasPrefix(r.Path, "/api/*") {
			continue // the API's 404 for every method: checked below
		}
		spec, ok := table[k]
		if !ok {
			t.Errorf("route %s (%s) is not classified in azRoutes: decide who may call it", k, r.Name)
			continue
		}
		seen[k] = true
		routes = append(routes, route{r.Method, r.Path, r.Name, spec})
	}
	for k := range table {
		if !seen[k] {
			t.Errorf("azRoutes lists %s, which the server does not register", k)
		}
	}
	// Destructive routes last, so that their positive controls do not remove what others need.
	// Deleting the assistant deletes its templates too: it comes very last.
	rank := func(r route) int {
		switch {
		case r.path == "/settings/sessions/revoke-all":
			return 4
		case r.path == "/workspaces" && r.method == "POST": // A works in the new workspace after it
			return 3
		case r.path == "/assistants/:id/delete":
			return 2
		case r.spec.destructive:
			return 1
		}
		return 0
	}
	sort.SliceStable(routes, func(i, j int) bool { return rank(routes[i]) < rank(routes[j]) })

	// The API's catch-all: 404 JSON for any method, without a key, leaking nothing.
	for _, m := range []string{"GET", "POST", "DELETE"} {
		r := e.azDo(nil, m, "/api/v2/conversations/"+strconv.FormatInt(f.A.convs["test"].ID, 10), nil)
		if r.status != 404 || !strings.Contains(r.body, `"not_found"`) {
			t.Errorf("%s /api/*: %d %s", m, r.status, r.body)
		}
	}

	var controls []func(t *testing.T)
	for _, rt := range routes {
		spec := rt.spec
		name := rt.method + " " + rt.path
		pathA := azPath(t, rt.path, azParams(f.A, spec.owner))
		if spec.query != "" {
			pathA += "?" + spec.query
		}
		body := func(w *azWS, csrf string) (io.Reader, []string) {
			if spec.class == azAPI {
				j := spec.json
				if spec.jsonFor != nil {
					j = spec.jsonFor(w)
				}
				if j == "" {
					return nil, nil
				}
				return strings.NewReader(j), []string{"Content-Type", "application/json"}
			}
			v := url.Values{}
			if spec.form != nil {
				v = spec.form(w)
			}
			if csrf != "" {
				v.Set("_csrf", csrf)
			}
			return azForm(v)
		}
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) {
			switch spec.class {
			case azPublic:
				spec.check(t, f, pathA)

			case azDashboard, azAdmin:
				all := e.azSnapshot(0)
				// 1. Without a session.
				if azSafe(rt.method) {
					r := e.azDo(nil, rt.method, pathA, nil)
					if r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/login") {
						t.Errorf("no session: %d %q, want 303 to /login", r.status, r.header.Get("Location"))
					}
					azNoLeak(t, "no session", r.body, f.A)
					r = e.azDo(nil, rt.method, pathA, nil, "HX-Request", "true")
					if r.status != 401 || r.header.Get("HX-Redirect") == "" {
						t.Errorf("no session, htmx: %d %q, want 401 with HX-Redirect", r.status, r.header.Get("HX-Redirect"))
					}
				} else {
					b, h := body(f.A, "")
					if r := e.azDo(nil, rt.method, pathA, b, h...); r.status != 403 {
						t.Errorf("no session, no CSRF: %d, want 403", r.status)
					}
					// With a CSRF token of its own (a visitor of the login page) but no session.
					anon := e.Client()
					b, h = body(f.A, e.CSRF(anon, "/login"))
					if r := e.azDo(anon, rt.method, pathA, b, h...); r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/login") {
						t.Errorf("no session, with a CSRF token: %d %q, want 303 to /login", r.status, r.header.Get("Location"))
					}
					// 3. A's own session without the CSRF token.
					b, h = body(f.A, "")
					if r := e.azDo(f.a, rt.method, pathA, b, h...); r.status != 403 {
						t.Errorf("session without CSRF: %d, want 403", r.status)
					}
					b, h = body(f.A, "")
					if r := e.azDo(f.a, rt.method, pathA, b, append(h, "X-CSRF-Token", csrfB)...); r.status != 403 {
						t.Errorf("session with another session's CSRF token: %d, want 403", r.status)
					}
				}
				azSameSnapshot(t, "requests without a session or CSRF token", all, e.azSnapshot(0))
				if spec.class == azAdmin {
					// The queues are the installation's: only the admins of its first workspace
					// (A's) see them; a user who is not an admin, and the admin of another
					// workspace (B), get 403 and change nothing.
					for who, c := range map[string]*http.Client{"a user who is not an admin": member, "another workspace's admin": f.b} {
						tok := csrfMember
						if c == f.b {
							tok = csrfB
						}
						b, h := body(f.A, tok)
						if r := e.azDo(c, rt.method, pathA, b, h...); r.status != 403 {
							t.Errorf("%s: %d, want 403", who, r.status)
						}
					}
					azSameSnapshot(t, "requests of users who are not the installation's admins", all, e.azSnapshot(0))
					if azSafe(rt.method) {
						if r := e.azDo(f.a, rt.method, pathA, nil); r.status != 200 {
							t.Errorf("the installation's admin: %d", r.status)
						}
					}
					return
				}
				// 2. With B's session, on A's objects.
				onlyA := e.azSnapshot(f.A.ws.ID)
				b, h := body(f.A, csrfB)
				r := e.azDo(f.b, rt.method, pathA, b, h...)
				want := spec.cross
				if want == 0 && spec.owner != "" {
					want = 404
				}
				if want != 0 && r.status != want {
					t.Errorf("B on A's %s: %d, want %d", spec.owner, r.status, want)
				}
				if want == 0 && r.status >= 400 {
					t.Errorf("B on its own workspace: %d", r.status)
				}
				azNoLeak(t, "B's response", r.body, f.A)
				if azSafe(rt.method) {
					r = e.azDo(f.b, rt.method, pathA, nil, "HX-Request", "true")
					if want != 0 && r.status != want {
						t.Errorf("B on A's %s (htmx): %d, want %d", spec.owner, r.status, want)
					}
					azNoLeak(t, "B's htmx response", r.body, f.A)
				}
				azSameSnapshot(t, "B's request", onlyA, e.azSnapshot(f.A.ws.ID))
				// The positive control: A reaches its own object.
				if spec.owner != "" || spec.cross != 0 {
					control := func(t *testing.T) {
						b, h := body(f.A, csrfA)
						if r := e.azDo(f.a, rt.method, pathA, b, h...); r.status == 404 || r.status >= 500 || (azSafe(rt.method) && r.status != 200) {
							t.Errorf("%s: A on its own %s: %d %.300s", name, spec.owner, r.status, r.body)
						}
					}
					if spec.destructive || !azSafe(rt.method) || strings.Contains(rt.path, "/reply/") {
						controls = append(controls, control) // a reply is produced after the stream is left
					} else {
						control(t)
					}
				}

			case azAPI:
				all := e.azSnapshot(0)
				for _, hdr := range [][]string{nil, {"Authorization", "Bearer " + f.A.revoked}, {"Authorization", "Basic " + f.A.key}, {"Authorization", "Bearer " + f.A.key + "x"}} {
					b, h := body(f.A, "")
					r := e.azDo(nil, rt.method, pathA, b, append(h, hdr...)...)
					if r.status != 401 || !strings.Contains(r.header.Get("Content-Type"), "json") {
						t.Errorf("API with %q: %d %q, want 401 JSON", hdr, r.status, r.header.Get("Content-Type"))
					}
					azNoLeak(t, "unauthenticated API", r.body, f.A)
				}
				// A dashboard session is not an API credential.
				b, h := body(f.A, "")
				if r := e.azDo(f.a, rt.method, pathA, b, append(h, "X-CSRF-Token", csrfA)...); r.status != 401 {
					t.Errorf("API with a dashboard session: %d, want 401", r.status)
				}
				azSameSnapshot(t, "unauthenticated API requests", all, e.azSnapshot(0))
				onlyA := e.azSnapshot(f.A.ws.ID)
				b, h = body(f.A, "")
				r := e.azDo(nil, rt.method, pathA, b, append(h, "Authorization", "Bearer "+f.B.key)...)
				if spec.owner != "" && r.status != 404 {
					t.Errorf("B's key on A's %s: %d, want 404", spec.owner, r.status)
				}
				if spec.owner == "" && spec.cross != 0 && r.status != spec.cross {
					t.Errorf("B's key naming A's objects: %d, want %d", r.status, spec.cross)
				}
				if spec.owner == "" && spec.cross == 0 && r.status >= 400 {
					t.Errorf("B's key on its own workspace: %d %s", r.status, r.body)
				}
				azNoLeak(t, "B's API response", r.body, f.A)
				if spec.owner == "" && rt.method == "GET" {
					// A list answers B's rows only, and none of A's ids.
					var list struct {
						Data []struct {
							ID int64 `json:"id"`
						} `json:"data"`
					}
					_ = json.Unmarshal([]byte(r.body), &list)
					for _, d := range list.Data {
						for _, c := range f.A.convs {
							if strings.Contains(rt.path, "conversations") && d.ID == c.ID {
								t.Errorf("B's list shows A's conversation %d", c.ID)
							}
						}
						if strings.Contains(rt.path, "assistants") && d.ID == f.A.assistant.ID {
							t.Errorf("B's list shows A's assistant %d", d.ID)
						}
					}
					if strings.Contains(rt.path, "/api/v1/") && !strings.HasSuffix(rt.path, "/me") && len(list.Data) == 0 {
						t.Errorf("B's list: %s", r.body)
					}
				}
				azSameSnapshot(t, "B's API request", onlyA, e.azSnapshot(f.A.ws.ID))
				if spec.owner != "" || spec.cross != 0 {
					control := func(t *testing.T) {
						b, h := body(f.A, "")
						if r := e.azDo(nil, rt.method, pathA, b, append(h, "Authorization", "Bearer "+f.A.key)...); r.status >= 300 {
							t.Errorf("%s: A's key on its own %s: %d %s", name, spec.owner, r.status, r.body)
						}
					}
					if spec.destructive || !azSafe(rt.method) {
						controls = append(controls, control)
					} else {
						control(t)
					}
				}
			}
		})
	}
	// "Log out everywhere" ended B's sessions: B logs in again.
	e.Login(f.b, f.B.email, "correct-horse")
	csrfB = e.CSRF(f.b, "/assistants/new")

	// The queues are the installation's: A (the first workspace, its operator) starts a bulk
	// deletion whose filter names its customers; the admin of another workspace neither sees
	// the task nor acts on it.
	t.Run("queues of another workspace", func(t *testing.T) {
		b, h := azForm(url.Values{"_csrf": {csrfA}})
		if r := e.azDo(f.a, "POST", "/conversations/bulk-delete?q="+f.A.convMark, b, h...); r.status != 303 {
			t.Fatalf("A's bulk deletion: %d %s", r.status, r.body)
		}
		if r := e.azDo(f.a, "GET", "/queues/default?state=pending", nil); r.status != 200 || !strings.Contains(r.body, f.A.convMark) {
			t.Errorf("the operator sees the task: %d", r.status)
		}
		r := e.azDo(f.b, "GET", "/queues/default?state=pending", nil)
		azNoLeak(t, "another workspace's queue page", r.body, f.A)
		if r.status != 403 {
			t.Errorf("another workspace's admin on the queues: %d, want 403", r.status)
		}
		// Nor pause the queue that runs everyone's jobs.
		b, h = azForm(url.Values{"_csrf": {csrfB}})
		if r := e.azDo(f.b, "POST", "/queues/default/pause", b, h...); r.status != 403 {
			t.Errorf("another workspace's admin pausing a queue: %d, want 403", r.status)
		}
		if qi, err := asynq.NewInspectorFromRedisClient(e.App.Redis).GetQueueInfo("default"); err != nil || qi.Paused {
			t.Errorf("the queue: %+v %v", qi, err)
		}
	})

	// The positive controls of unsafe routes, destructive ones last: each route really acts on
	// the object it was given, so that its 404 for B was about the workspace.
	for _, c := range controls {
		c(t)
	}
}
