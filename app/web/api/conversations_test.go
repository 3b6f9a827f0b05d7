package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/app/web/webtest"
)

// apiConvFixture is two workspaces with an API key each: A holds five conversations of every
// type, B holds one (with the same customer as one of A's).
type apiConvFixture struct {
	e          *env
	wsA, wsB   *store.Workspace
	keyA, keyB string
	asst       *store.Assistant
	// A's conversations: c1 test (assistant, two messages, cost, variables), c2 widget (no
	// assistant), c3 WhatsApp window open, c4 WhatsApp window expired, c5 WhatsApp without
	// a window (the customer never wrote), costly. Last activity: c1 < c2 < c3 < c4 < c5.
	c1, c2, c3, c4, c5 *store.Conversation
	m1, m2             *store.Message // c1's messages
	cB                 *store.Conversation
}

var apiConvBase = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

func newAPIConvFixture(t *testing.T) *apiConvFixture {
	t.Helper()
	f := &apiConvFixture{e: newEnv(t)}
	f.wsA = f.e.User("ana@example.com", "correct-horse")
	f.wsB = f.e.User("bob@example.com", "correct-horse")
	f.keyA = apiConvKey(t, f.e, f.wsA.ID)
	f.keyB = apiConvKey(t, f.e, f.wsB.ID)
	ctx := context.Background()
	st := f.e.App.Store

	f.asst = &store.Assistant{WorkspaceID: f.wsA.ID, Name: "Sales bot", Model: "gpt-test"}
	if err := st.CreateAssistant(ctx, f.asst); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// The database keeps microseconds.
	in1h, ago1h := now.Add(time.Hour).Truncate(time.Microsecond), now.Add(-time.Hour).Truncate(time.Microsecond)

	f.c1 = apiConvCreate(t, f.e, &store.Conversation{WorkspaceID: f.wsA.ID, AssistantID: &f.asst.ID, Type: model.TypeTest,
		Customer: "alice@example.com", CustomerName: "Alice", Charged: true, StartedAt: apiConvBase})
	f.m1 = apiConvMsg(t, f.e, &store.Message{WorkspaceID: f.wsA.ID, ConversationID: f.c1.ID, Role: "user",
		Content: "Hello <script>alert(1)</script>", CreatedAt: apiConvBase.Add(time.Second), Status: "received"})
	f.m2 = apiConvMsg(t, f.e, &store.Message{WorkspaceID: f.wsA.ID, ConversationID: f.c1.ID, Role: "assistant",
		Content: "Hi there, \"friend\" & co", CreatedAt: apiConvBase.Add(2*time.Second + 250*time.Millisecond), Status: "sent",
		PromptTokens: 100, CachedTokens: 10, CompletionTokens: 20, CostNanos: 525300})
	apiConvVar(t, f.e, &store.ConversationVariable{WorkspaceID: f.wsA.ID, ConversationID: f.c1.ID, Name: "plan", Value: "pro", Source: "extracted", MessageID: &f.m2.ID})
	apiConvVar(t, f.e, &store.ConversationVariable{WorkspaceID: f.wsA.ID, ConversationID: f.c1.ID, Name: "city", Value: "Paris", Source: "prechat"})

	f.c2 = apiConvCreate(t, f.e, &store.Conversation{WorkspaceID: f.wsA.ID, Type: model.TypeWidget, Customer: "bob-visitor",
		StartedAt: time.Date(2025, 3, 11, 9, 0, 0, 0, time.UTC)})
	apiConvMsg(t, f.e, &store.Message{WorkspaceID: f.wsA.ID, ConversationID: f.c2.ID, Role: "user",
		Content: "I would like a zebra please", CreatedAt: time.Date(2025, 3, 11, 9, 0, 5, 0, time.UTC)})

	f.c3 = apiConvCreate(t, f.e, &store.Conversation{WorkspaceID: f.wsA.ID, AssistantID: &f.asst.ID, Type: model.TypeWhatsApp,
		Customer: "+15550001", StartedAt: time.Date(2025, 3, 12, 8, 0, 0, 500_000_000, time.UTC), WindowExpiresAt: &in1h})
	f.c4 = apiConvCreate(t, f.e, &store.Conversation{WorkspaceID: f.wsA.ID, Type: model.TypeWhatsApp,
		Customer: "+15550002", StartedAt: time.Date(2025, 3, 13, 8, 0, 0, 0, time.UTC), WindowExpiresAt: &ago1h})
	f.c5 = apiConvCreate(t, f.e, &store.Conversation{WorkspaceID: f.wsA.ID, Type: model.TypeWhatsApp,
		Customer: "+15550003", StartedAt: time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC)})
	apiConvMsg(t, f.e, &store.Message{WorkspaceID: f.wsA.ID, ConversationID: f.c5.ID, Role: "assistant",
		Content: "Template sent", CreatedAt: time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC), CostNanos: 9_000_000_001})

	f.cB = apiConvCreate(t, f.e, &store.Conversation{WorkspaceID: f.wsB.ID, Type: model.TypeTest, Customer: "alice@example.com",
		StartedAt: time.Date(2025, 3, 12, 0, 0, 0, 0, time.UTC)})
	apiConvMsg(t, f.e, &store.Message{WorkspaceID: f.wsB.ID, ConversationID: f.cB.ID, Role: "user",
		Content: "zebra in workspace B", CreatedAt: time.Date(2025, 3, 12, 0, 0, 1, 0, time.UTC)})
	apiConvVar(t, f.e, &store.ConversationVariable{WorkspaceID: f.wsB.ID, ConversationID: f.cB.ID, Name: "plan", Value: "pro", Source: "api"})
	return f
}

func apiConvKey(t *testing.T, e *env, workspaceID int64) string {
	t.Helper()
	key, prefix, hash, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Store.CreateAPIKey(context.Background(), workspaceID, "test", prefix, hash, nil); err != nil {
		t.Fatal(err)
	}
	return key
}

func apiConvCreate(t *testing.T, e *env, c *store.Conversation) *store.Conversation {
	t.Helper()
	if err := e.App.Store.CreateConversation(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func apiConvMsg(t *testing.T, e *env, m *store.Message) *store.Message {
	t.Helper()
	if _, err := e.App.Store.AddMessage(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

func apiConvVar(t *testing.T, e *env, v *store.ConversationVariable) {
	t.Helper()
	if err := e.App.Store.SetVariable(context.Background(), v); err != nil {
		t.Fatal(err)
	}
}

// apiConvDo sends an API request with the key (none when empty) and returns the status and body.
func apiConvDo(t *testing.T, e *env, method, path, key string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, e.URL+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b, res.Header
}

// apiConvJSON is a GET that must answer 200 with a JSON object.
func apiConvJSON(t *testing.T, e *env, path, key string) map[string]any {
	t.Helper()
	st, b, h := apiConvDo(t, e, http.MethodGet, path, key)
	if st != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, st, b)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET %s: content type %q", path, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, b)
	}
	return m
}

type apiConvPage struct {
	Data       []map[string]any `json:"data"`
	NextCursor *string          `json:"next_cursor"`
}

func apiConvList(t *testing.T, e *env, query, key string) apiConvPage {
	t.Helper()
	st, b, _ := apiConvDo(t, e, http.MethodGet, "/api/v1/conversations?"+query, key)
	if st != http.StatusOK {
		t.Fatalf("list ?%s: %d %s", query, st, b)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["next_cursor"]; !ok {
		t.Fatalf("list ?%s: next_cursor missing: %s", query, b)
	}
	if string(raw["data"]) == "null" {
		t.Fatalf("list ?%s: data must be an array, even empty: %s", query, b)
	}
	var p apiConvPage
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func apiConvIDs(p apiConvPage) []int64 {
	ids := make([]int64, 0, len(p.Data))
	for _, it := range p.Data {
		ids = append(ids, int64(it["id"].(float64)))
	}
	return ids
}

// apiConvErr checks a JSON error answer and returns its code and message.
func apiConvErr(t *testing.T, e *env, method, path, key string, wantStatus int) (string, string) {
	t.Helper()
	st, b, h := apiConvDo(t, e, method, path, key)
	if st != wantStatus {
		t.Fatalf("%s %s: %d, want %d (%s)", method, path, st, wantStatus, b)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: error content type %q", method, path, ct)
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("%s %s: not a JSON error: %s", method, path, b)
	}
	return body.Error.Code, body.Error.Message
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func keysOf(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestAPIConversationsRoutesAreNamed(t *testing.T) {
	e := newEnv(t)
	r := web.New(e.App).Echo()
	for name, want := range map[string]string{
		"api.conversations":       "/api/v1/conversations",
		"api.conversation":        "/api/v1/conversations/7",
		"api.conversation.delete": "/api/v1/conversations/7",
	} {
		if got := r.Reverse(name, 7); got != want {
			t.Errorf("route %s: %q, want %q", name, got, want)
		}
	}
}

func TestAPIConversationsListShape(t *testing.T) {
	f := newAPIConvFixture(t)
	p := apiConvList(t, f.e, "", f.keyA)
	if got, want := apiConvIDs(p), []int64{f.c5.ID, f.c4.ID, f.c3.ID, f.c2.ID, f.c1.ID}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ids %v, want %v (newest activity first, only workspace A)", got, want)
	}
	if p.NextCursor != nil {
		t.Fatalf("one page only: next_cursor %q", *p.NextCursor)
	}
	byID := map[int64]map[string]any{}
	for _, it := range p.Data {
		byID[int64(it["id"].(float64))] = it
	}

	// c1: every field, exactly.
	c1 := byID[f.c1.ID]
	wantKeys := []string{"assignee", "assistant_id", "assistant_version", "completion_tokens", "cost_breakdown", "cost_usd", "csat", "csat_estimate", "customer", "end_reason", "ended_at", "evaluation_status", "id", "last_message_at", "message_count", "outcome", "prompt_tokens", "review_status", "sentiment", "started_at", "summary", "tags", "type", "user_message_count", "variables"}
	if got := keysOf(c1); !reflect.DeepEqual(got, wantKeys) {
		t.Fatalf("test item keys %v, want %v", got, wantKeys)
	}
	want := map[string]any{
		"id": float64(f.c1.ID), "type": "test", "assistant_id": float64(f.asst.ID), "assistant_version": nil, "customer": "alice@example.com",
		"message_count": float64(2), "user_message_count": float64(1), "prompt_tokens": float64(100), "completion_tokens": float64(20),
		"cost_usd": "0.000525300", "variables": map[string]any{"plan": "pro", "city": "Paris"},
		"started_at": "2025-03-10T12:00:00Z", "last_message_at": "2025-03-10T12:00:02.25Z",
		"ended_at": nil, "end_reason": nil,
		// issue 14: never evaluated; all of the cost is replies.
		"summary": nil, "outcome": nil, "sentiment": nil, "csat_estimate": nil, "evaluation_status": nil,
		"cost_breakdown": map[string]any{"reply": "0.000525300", "extraction": "0.000000000", "evaluation": "0.000000000"},
		"review_status":  "unreviewed", "assignee": nil, "tags": []any{},
		"csat": nil,
	}
	if !reflect.DeepEqual(c1, want) {
		t.Fatalf("c1:\n got %v\nwant %v", c1, want)
	}
	// c2: no assistant is null (present), an empty variables object, no window.
	c2 := byID[f.c2.ID]
	if v, ok := c2["assistant_id"]; !ok || v != nil {
		t.Fatalf("widget without assistant: assistant_id %v (present %v)", v, ok)
	}
	if c2["type"] != "widget" || c2["cost_usd"] != "0.000000000" || !reflect.DeepEqual(c2["variables"], map[string]any{}) {
		t.Fatalf("c2: %v", c2)
	}
	if c2["last_message_at"] != "2025-03-11T09:00:05Z" {
		t.Fatalf("c2 last_message_at %v", c2["last_message_at"])
	}
	for _, it := range []map[string]any{c1, c2} {
		if _, ok := it["window_open"]; ok {
			t.Fatalf("non-WhatsApp item with window_open: %v", it)
		}
		if _, ok := it["window_expires_at"]; ok {
			t.Fatalf("non-WhatsApp item with window_expires_at: %v", it)
		}
	}
	// WhatsApp windows.
	c3, c4, c5 := byID[f.c3.ID], byID[f.c4.ID], byID[f.c5.ID]
	if c3["type"] != "whatsapp" || c3["window_open"] != true || c3["window_expires_at"] != rfc(*f.c3.WindowExpiresAt) {
		t.Fatalf("open window: %v (want expires %s)", c3, rfc(*f.c3.WindowExpiresAt))
	}
	if _, err := time.Parse(time.RFC3339, c3["window_expires_at"].(string)); err != nil || !strings.HasSuffix(c3["window_expires_at"].(string), "Z") {
		t.Fatalf("window_expires_at is RFC 3339 UTC: %v", c3["window_expires_at"])
	}
	if c3["started_at"] != "2025-03-12T08:00:00.5Z" {
		t.Fatalf("fractional started_at: %v", c3["started_at"])
	}
	if c4["window_open"] != false || c4["window_expires_at"] != rfc(*f.c4.WindowExpiresAt) {
		t.Fatalf("expired window: %v", c4)
	}
	if v, ok := c5["window_expires_at"]; !ok || v != nil || c5["window_open"] != false {
		t.Fatalf("WhatsApp without a window: %v", c5)
	}
	if c5["cost_usd"] != "9.000000001" {
		t.Fatalf("c5 cost %v", c5["cost_usd"])
	}
}

func TestAPIConversationsFilters(t *testing.T) {
	f := newAPIConvFixture(t)
	ids := func(q string) []int64 { return apiConvIDs(apiConvList(t, f.e, q, f.keyA)) }
	a := fmt.Sprint(f.asst.ID)
	for _, tc := range []struct {
		query string
		want  []int64
	}{
		{"type=whatsapp", []int64{f.c5.ID, f.c4.ID, f.c3.ID}},
		{"type=widget", []int64{f.c2.ID}},
		{"type=test", []int64{f.c1.ID}},
		{"assistant_id=" + a, []int64{f.c3.ID, f.c1.ID}},
		{"assistant=" + a, []int64{f.c3.ID, f.c1.ID}},
		{"assistant_id=" + a + "&type=test", []int64{f.c1.ID}},
		{"assistant_id=999999", []int64{}},
		{"customer=alice", []int64{f.c1.ID}},
		{"customer=" + url.QueryEscape("+1555"), []int64{f.c5.ID, f.c4.ID, f.c3.ID}},
		{"customer=nobody", []int64{}},
		{"from=2025-03-11&to=2025-03-12", []int64{f.c3.ID, f.c2.ID}},
		{"from=2025-03-13", []int64{f.c5.ID, f.c4.ID}},
		{"to=2025-03-10", []int64{f.c1.ID}},
		{"from=" + url.QueryEscape("2025-03-11T09:00:05Z") + "&to=" + url.QueryEscape("2025-03-12T08:00:00.5Z"), []int64{f.c2.ID}},
		{"from=" + url.QueryEscape("2025-03-11T10:00:05+01:00"), []int64{f.c5.ID, f.c4.ID, f.c3.ID, f.c2.ID}},
		{"q=zebra", []int64{f.c2.ID}},
		{"q=nothingmatches", []int64{}},
		{"var=plan", []int64{f.c1.ID}},
		{"var=plan&value=pro", []int64{f.c1.ID}},
		{"var=plan&value=free", []int64{}},
		{"var=city&value=Paris", []int64{f.c1.ID}},
		{"sort=cost", []int64{f.c5.ID, f.c1.ID, f.c4.ID, f.c3.ID, f.c2.ID}},
		{"sort=last", []int64{f.c5.ID, f.c4.ID, f.c3.ID, f.c2.ID, f.c1.ID}},
		{"closing=1", []int64{f.c3.ID}},
		{"unknown=param&another=1", []int64{f.c5.ID, f.c4.ID, f.c3.ID, f.c2.ID, f.c1.ID}},
	} {
		if got := ids(tc.query); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("?%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	// B sees only its own rows, whatever the filter.
	for _, q := range []string{"", "customer=alice", "var=plan&value=pro", "q=zebra", "assistant_id=" + a, "type=whatsapp", "sort=cost"} {
		for _, id := range apiConvIDs(apiConvList(t, f.e, q, f.keyB)) {
			if id != f.cB.ID {
				t.Errorf("B's list ?%s holds %d", q, id)
			}
		}
	}
	if got := apiConvIDs(apiConvList(t, f.e, "customer=alice", f.keyB)); !reflect.DeepEqual(got, []int64{f.cB.ID}) {
		t.Errorf("B customer=alice: %v", got)
	}
}

func TestAPIConversationsBadParameters(t *testing.T) {
	f := newAPIConvFixture(t)
	for _, tc := range []struct{ query, param string }{
		{"limit=0", "limit"},
		{"limit=101", "limit"},
		{"limit=abc", "limit"},
		{"limit=-1", "limit"},
		{"limit=2.5", "limit"},
		{"type=fax", "type"},
		{"cursor=garbage!", "cursor"},
		{"cursor=" + store.Cursor{Sort: "msg", Time: time.Now(), ID: 3}.Encode(), "cursor"},
		{"cursor=" + store.Cursor{Sort: "last", Time: time.Now(), ID: 3}.Encode() + "&sort=cost", "cursor"},
		{"from=yesterday", "from"},
		{"from=2025-13-01", "from"},
		{"to=03%2F10%2F2025", "to"},
		{"from=2025-03-12&to=2025-03-10", "to"},
		{"assistant_id=abc", "assistant_id"},
		{"assistant=-3", "assistant"},
		{"sort=name", "sort"},
		{"value=pro", "var"},
		{"q=" + strings.Repeat("x", 201), "q"},
	} {
		code, msg := apiConvErr(t, f.e, http.MethodGet, "/api/v1/conversations?"+tc.query, f.keyA, http.StatusBadRequest)
		if code != "invalid_parameter" || !strings.HasPrefix(msg, tc.param+": ") {
			t.Errorf("?%s: %q %q, want invalid_parameter naming %s", tc.query, code, msg, tc.param)
		}
	}
	if _, msg := apiConvErr(t, f.e, http.MethodGet, "/api/v1/conversations?limit=0", f.keyA, http.StatusBadRequest); msg != "limit: must be an integer from 1 to 100" {
		t.Errorf("limit message %q", msg)
	}
	// Without a key: 401, on every route.
	for _, r := range [][2]string{{http.MethodGet, "/api/v1/conversations"}, {http.MethodGet, "/api/v1/conversations/" + webtest.Itoa(f.c1.ID)},
		{http.MethodDelete, "/api/v1/conversations/" + webtest.Itoa(f.c1.ID)}} {
		apiConvErr(t, f.e, r[0], r[1], "", http.StatusUnauthorized)
		apiConvErr(t, f.e, r[0], r[1], "pk_live_wrong", http.StatusUnauthorized)
	}
	if _, err := f.e.App.Store.GetConversation(context.Background(), f.wsA.ID, f.c1.ID); err != nil {
		t.Fatalf("an unauthorized DELETE must not delete: %v", err)
	}
}

func TestAPIConversationsPagination(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	key := apiConvKey(t, e, ws.ID)
	// 25 conversations; groups of three share their last activity, so the id breaks ties.
	var want []int64 // newest first
	costs := map[int64]int64{}
	for i := 0; i < 25; i++ {
		at := apiConvBase.Add(time.Duration(i/3) * time.Minute)
		c := apiConvCreate(t, e, &store.Conversation{WorkspaceID: ws.ID, Type: model.Types[i%3], Customer: fmt.Sprintf("cust-%02d", i), StartedAt: at})
		cost := int64((i * 7) % 5 * 1000) // repeated costs, so the id breaks ties there too
		apiConvMsg(t, e, &store.Message{WorkspaceID: ws.ID, ConversationID: c.ID, Role: "user", Content: "hi", CreatedAt: at, CostNanos: cost})
		want = append([]int64{c.ID}, want...)
		costs[c.ID] = cost
	}
	// Ties by last activity are broken by id, descending: within a group of equal times the
	// newest id comes first, which the reversed insertion order already is.

	// Default page: 20.
	p := apiConvList(t, e, "", key)
	if len(p.Data) != 20 || p.NextCursor == nil {
		t.Fatalf("default limit: %d items, next %v", len(p.Data), p.NextCursor)
	}
	if p2 := apiConvList(t, e, "limit=100", key); len(p2.Data) != 25 || p2.NextCursor != nil {
		t.Fatalf("limit=100: %d items, next %v", len(p2.Data), p2.NextCursor)
	}
	if p2 := apiConvList(t, e, "limit=25", key); len(p2.Data) != 25 || p2.NextCursor != nil {
		t.Fatalf("limit=25 (exactly all): %d items, next %v", len(p2.Data), p2.NextCursor)
	}

	walk := func(query string) []int64 {
		t.Helper()
		var got []int64
		seen := map[int64]bool{}
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatalf("?%s: pagination does not end", query)
			}
			q := query
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			p := apiConvList(t, e, q, key)
			if len(p.Data) > 2 || len(p.Data) == 0 {
				t.Fatalf("?%s page %d: %d items", query, pages, len(p.Data))
			}
			for _, id := range apiConvIDs(p) {
				if seen[id] {
					t.Fatalf("?%s: %d twice", query, id)
				}
				seen[id] = true
				got = append(got, id)
			}
			if p.NextCursor == nil {
				return got
			}
			if *p.NextCursor == "" {
				t.Fatalf("?%s: an empty next_cursor must be null", query)
			}
			cursor = *p.NextCursor
		}
	}
	if got := walk("limit=2"); !reflect.DeepEqual(got, want) {
		t.Fatalf("walk by last activity:\n got %v\nwant %v", got, want)
	}
	wantCost := append([]int64(nil), want...)
	sort.SliceStable(wantCost, func(i, j int) bool {
		if costs[wantCost[i]] != costs[wantCost[j]] {
			return costs[wantCost[i]] > costs[wantCost[j]]
		}
		return wantCost[i] > wantCost[j]
	})
	if got := walk("limit=2&sort=cost"); !reflect.DeepEqual(got, wantCost) {
		t.Fatalf("walk by cost:\n got %v\nwant %v", got, wantCost)
	}
	// With a filter: the cursor keeps the filter's rows only.
	var wantWA []int64
	for _, it := range apiConvList(t, e, "limit=100&type=whatsapp", key).Data {
		wantWA = append(wantWA, int64(it["id"].(float64)))
	}
	if got := walk("limit=2&type=whatsapp"); len(wantWA) != 8 || !reflect.DeepEqual(got, wantWA) {
		t.Fatalf("walk whatsapp: %v, want %v", got, wantWA)
	}
	// The last page's next_cursor is null (explicitly present).
	st, b, _ := apiConvDo(t, e, http.MethodGet, "/api/v1/conversations?limit=100", key)
	if st != http.StatusOK || !bytes.Contains(b, []byte(`"next_cursor":null`)) {
		t.Fatalf("last page: %d %s", st, b)
	}
}

func TestAPIConversationDetail(t *testing.T) {
	f := newAPIConvFixture(t)
	d := apiConvJSON(t, f.e, "/api/v1/conversations/"+webtest.Itoa(f.c1.ID), f.keyA)
	for k, v := range map[string]any{
		"id": float64(f.c1.ID), "type": "test", "assistant_id": float64(f.asst.ID), "customer": "alice@example.com",
		"message_count": float64(2), "user_message_count": float64(1), "prompt_tokens": float64(100), "completion_tokens": float64(20),
		"cost_usd": "0.000525300", "variables": map[string]any{"plan": "pro", "city": "Paris"},
		"started_at": "2025-03-10T12:00:00Z", "last_message_at": "2025-03-10T12:00:02.25Z",
		"customer_name": "Alice", "assistant_name": "Sales bot", "charged": true, "cached_tokens": float64(10),
	} {
		if !reflect.DeepEqual(d[k], v) {
			t.Errorf("%s: %#v, want %#v", k, d[k], v)
		}
	}
	if _, ok := d["window_open"]; ok {
		t.Error("a test conversation has no window")
	}
	wantMsgs := []any{
		map[string]any{"id": float64(f.m1.ID), "role": "user", "content": "Hello <script>alert(1)</script>", "created_at": "2025-03-10T12:00:01Z",
			"status": "received", "prompt_tokens": float64(0), "completion_tokens": float64(0), "cost_usd": "0.000000000", "correction": nil, "feedback": nil, "assistant_version": nil},
		map[string]any{"id": float64(f.m2.ID), "role": "assistant", "content": "Hi there, \"friend\" & co", "created_at": "2025-03-10T12:00:02.25Z",
			"status": "sent", "prompt_tokens": float64(100), "completion_tokens": float64(20), "cost_usd": "0.000525300", "correction": nil, "feedback": nil, "assistant_version": nil},
	}
	if !reflect.DeepEqual(d["messages"], wantMsgs) {
		t.Errorf("messages:\n got %#v\nwant %#v", d["messages"], wantMsgs)
	}
	wantVars := []any{
		map[string]any{"name": "city", "value": "Paris", "source": "prechat", "message_id": nil},
		map[string]any{"name": "plan", "value": "pro", "source": "extracted", "message_id": float64(f.m2.ID)},
	}
	if !reflect.DeepEqual(d["variables_detail"], wantVars) {
		t.Errorf("variables_detail:\n got %#v\nwant %#v", d["variables_detail"], wantVars)
	}

	// A WhatsApp conversation without messages or variables: empty arrays, the window.
	d = apiConvJSON(t, f.e, "/api/v1/conversations/"+webtest.Itoa(f.c3.ID), f.keyA)
	if !reflect.DeepEqual(d["messages"], []any{}) || !reflect.DeepEqual(d["variables_detail"], []any{}) {
		t.Errorf("empty conversation: messages %#v, variables_detail %#v", d["messages"], d["variables_detail"])
	}
	if d["window_open"] != true || d["window_expires_at"] != rfc(*f.c3.WindowExpiresAt) || d["assistant_name"] != "Sales bot" {
		t.Errorf("whatsapp detail: %v", d)
	}
	d = apiConvJSON(t, f.e, "/api/v1/conversations/"+webtest.Itoa(f.c2.ID), f.keyA)
	if v, ok := d["assistant_id"]; !ok || v != nil || d["assistant_name"] != "" {
		t.Errorf("no assistant: %v", d)
	}

	// Not found: non-numeric, zero, negative, unknown, overflowing ids.
	for _, id := range []string{"abc", "0", "-1", "999999", "99999999999999999999999", "1e3", "%20"} {
		code, _ := apiConvErr(t, f.e, http.MethodGet, "/api/v1/conversations/"+id, f.keyA, http.StatusNotFound)
		if code != "not_found" {
			t.Errorf("GET id %s: code %q", id, code)
		}
		apiConvErr(t, f.e, http.MethodDelete, "/api/v1/conversations/"+id, f.keyA, http.StatusNotFound)
	}
}

// All messages, oldest first, across the store's batches of 500, with ties on created_at.
func TestAPIConversationDetailManyMessages(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	key := apiConvKey(t, e, ws.ID)
	c := apiConvCreate(t, e, &store.Conversation{WorkspaceID: ws.ID, Type: model.TypeWidget, Customer: "v", StartedAt: apiConvBase})
	const n = 1003
	var want []int64
	for i := 0; i < n; i++ {
		m := apiConvMsg(t, e, &store.Message{WorkspaceID: ws.ID, ConversationID: c.ID, Role: "user",
			Content: fmt.Sprintf("message %d", i), CreatedAt: apiConvBase.Add(time.Duration(i/7) * time.Second)})
		want = append(want, m.ID)
	}
	st, b, _ := apiConvDo(t, e, http.MethodGet, "/api/v1/conversations/"+webtest.Itoa(c.ID), key)
	if st != http.StatusOK {
		t.Fatalf("%d %s", st, b)
	}
	var d struct {
		MessageCount int `json:"message_count"`
		Messages     []struct {
			ID      int64  `json:"id"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("streamed body is not JSON: %v", err)
	}
	if d.MessageCount != n || len(d.Messages) != n {
		t.Fatalf("message_count %d, %d messages, want %d", d.MessageCount, len(d.Messages), n)
	}
	for i, m := range d.Messages {
		if m.ID != want[i] || m.Content != fmt.Sprintf("message %d", i) {
			t.Fatalf("message %d: %+v, want id %d", i, m, want[i])
		}
	}
}

func TestAPIConversationDelete(t *testing.T) {
	f := newAPIConvFixture(t)
	ctx := context.Background()
	st := f.e.App.Store
	before, err := st.ConversationCounts(ctx, f.wsA.ID)
	if err != nil {
		t.Fatal(err)
	}

	// Listen to A's channel on Redis, as every web process does; Receive waits for the
	// subscription's confirmation, so nothing published afterwards is missed.
	ps := f.e.App.Redis.Subscribe(ctx, events.Channel(f.e.App.Redis, f.wsA.ID))
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := ps.Channel()

	status, b, _ := apiConvDo(t, f.e, http.MethodDelete, "/api/v1/conversations/"+webtest.Itoa(f.c1.ID), f.keyA)
	if status != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("DELETE: %d %q", status, b)
	}
	got := map[string]events.Event{}
	deadline := time.After(5 * time.Second)
	for len(got) < 2 {
		select {
		case m := <-msgs:
			var ev events.Event
			if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil {
				t.Fatalf("event %q: %v", m.Payload, err)
			}
			got[ev.Kind] = ev
		case <-deadline:
			t.Fatalf("live updates after DELETE: %v", got)
		}
	}
	if ev := got[events.ConversationDeleted]; ev.WorkspaceID != f.wsA.ID || ev.ConversationID != f.c1.ID {
		t.Fatalf("deleted event %+v", ev)
	}
	if ev := got[events.CountsChanged]; ev.WorkspaceID != f.wsA.ID {
		t.Fatalf("counts event %+v", ev)
	}

	code, _ := apiConvErr(t, f.e, http.MethodGet, "/api/v1/conversations/"+webtest.Itoa(f.c1.ID), f.keyA, http.StatusNotFound)
	if code != "not_found" {
		t.Fatalf("GET after DELETE: %q", code)
	}
	apiConvErr(t, f.e, http.MethodDelete, "/api/v1/conversations/"+webtest.Itoa(f.c1.ID), f.keyA, http.StatusNotFound)
	after, err := st.ConversationCounts(ctx, f.wsA.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Total != before.Total-1 || after.ByType[model.TypeTest] != before.ByType[model.TypeTest]-1 ||
		after.ByType[model.TypeWhatsApp] != before.ByType[model.TypeWhatsApp] {
		t.Fatalf("counts %+v -> %+v", before, after)
	}
	for _, id := range apiConvIDs(apiConvList(t, f.e, "", f.keyA)) {
		if id == f.c1.ID {
			t.Fatal("a deleted conversation is still listed")
		}
	}
	// Messages and variables went with it.
	if vs, err := st.Variables(ctx, f.wsA.ID, f.c1.ID); err != nil || len(vs) != 0 {
		t.Fatalf("variables after delete: %v %v", vs, err)
	}
	if _, err := st.MessageByID(ctx, f.wsA.ID, f.m1.ID); err != store.ErrNotFound {
		t.Fatalf("message after delete: %v", err)
	}
}

func TestAPIConversationsWorkspaceIsolation(t *testing.T) {
	f := newAPIConvFixture(t)
	ctx := context.Background()
	countsA, _ := f.e.App.Store.ConversationCounts(ctx, f.wsA.ID)
	for _, c := range []*store.Conversation{f.c1, f.c3} {
		path := "/api/v1/conversations/" + webtest.Itoa(c.ID)
		if code, _ := apiConvErr(t, f.e, http.MethodGet, path, f.keyB, http.StatusNotFound); code != "not_found" {
			t.Errorf("B GET A's conversation: %q", code)
		}
		if code, _ := apiConvErr(t, f.e, http.MethodDelete, path, f.keyB, http.StatusNotFound); code != "not_found" {
			t.Errorf("B DELETE A's conversation: %q", code)
		}
		if _, err := f.e.App.Store.GetConversation(ctx, f.wsA.ID, c.ID); err != nil {
			t.Fatalf("A's conversation after B's DELETE: %v", err)
		}
		if d := apiConvJSON(t, f.e, path, f.keyA); d["id"] != float64(c.ID) {
			t.Fatalf("A still reads its conversation: %v", d)
		}
	}
	if after, _ := f.e.App.Store.ConversationCounts(ctx, f.wsA.ID); after.Total != countsA.Total {
		t.Fatalf("A's counts moved: %d -> %d", countsA.Total, after.Total)
	}
	// B's list: B's row only, even with A's cursor.
	pA := apiConvList(t, f.e, "limit=1", f.keyA)
	for _, q := range []string{"", "limit=100", "cursor=" + url.QueryEscape(*pA.NextCursor)} {
		p := apiConvList(t, f.e, q, f.keyB)
		for _, id := range apiConvIDs(p) {
			if id != f.cB.ID {
				t.Errorf("B's list ?%s holds A's %d", q, id)
			}
		}
	}
	if got := apiConvIDs(apiConvList(t, f.e, "", f.keyB)); !reflect.DeepEqual(got, []int64{f.cB.ID}) {
		t.Fatalf("B's list: %v", got)
	}
	// And A's never holds B's.
	for _, id := range apiConvIDs(apiConvList(t, f.e, "limit=100", f.keyA)) {
		if id == f.cB.ID {
			t.Fatal("A's list holds B's conversation")
		}
	}
	if _, err := f.e.App.Store.GetConversation(ctx, f.wsB.ID, f.cB.ID); err != nil {
		t.Fatal(err)
	}
}
