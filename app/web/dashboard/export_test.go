package dashboard_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/cli"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/workers"
)

func TestExportsFollowTheFilters(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("ana@example.com")
	e.fixture("bob@example.com")
	ctx := context.Background()
	wa := f.convs["whatsapp"]
	if err := e.App.Store.SetVariable(ctx, &store.ConversationVariable{WorkspaceID: f.ws.ID, ConversationID: wa.ID, Name: "email", Value: "=HYPERLINK(\"http://evil\")", Source: "extracted"}); err != nil {
		t.Fatal(err)
	}
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")

	res := e.Get(c, "/conversations/export.csv?type=whatsapp")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv: %d %v", res.StatusCode, res.Header)
	}
	rows, err := csv.NewReader(res.Body).ReadAll()
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("csv rows: %d (header + 1 whatsapp conversation)", len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	r := rows[1]
	if r[col["type"]] != "whatsapp" || r[col["customer"]] != "+4915112345678" || r[col["cost_usd"]] != "0.000525300" || r[col["message_count"]] != "2" {
		t.Fatalf("csv row: %v", r)
	}
	if r[col["var:email"]] != "'=HYPERLINK(\"http://evil\")" {
		t.Fatalf("formula not neutralised: %q", r[col["var:email"]])
	}

	res = e.Get(c, "/conversations/export.jsonl?q=hello")
	sc := bufio.NewScanner(res.Body)
	n := 0
	for sc.Scan() {
		var obj map[string]any
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatalf("jsonl line: %v", err)
		}
		if obj["messages"] != nil {
			t.Fatal("no messages unless asked")
		}
		n++
	}
	res.Body.Close()
	if n != 3 {
		t.Fatalf("jsonl lines: %d", n)
	}
	res = e.Get(c, "/conversations/export.jsonl?messages=1&type=widget")
	var obj struct {
		Type     string
		Messages []struct{ Role, Content string }
	}
	if err := json.NewDecoder(res.Body).Decode(&obj); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if obj.Type != "widget" || len(obj.Messages) != 2 || obj.Messages[0].Content != "hello from widget" {
		t.Fatalf("jsonl with messages: %+v", obj)
	}
	// A bad filter is refused rather than exporting everything.
	res = e.Get(c, "/conversations/export.csv?type=fax")
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad filter export: %d", res.StatusCode)
	}
	// One conversation as JSON.
	res = e.Get(c, "/conversations/"+webtest.Itoa(wa.ID)+"/export.json")
	var one struct {
		ID       int64
		Messages []any
	}
	json.NewDecoder(res.Body).Decode(&one)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || one.ID != wa.ID || len(one.Messages) != 2 {
		t.Fatalf("export.json: %d %+v", res.StatusCode, one)
	}
}

func TestBulkDeleteRunsInTheBackground(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("ana@example.com")
	other := e.fixture("bob@example.com")
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	tok := e.CSRF(c, "/settings")

	// No filter: refused.
	res := e.PostForm(c, "/conversations/bulk-delete", url.Values{"_csrf": {tok}}, "HX-Request", "true")
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("unfiltered bulk delete: %d", res.StatusCode)
	}
	res = e.PostForm(c, "/conversations/bulk-delete?type=widget", url.Values{"_csrf": {tok}}, "HX-Request", "true")
	d := webtest.Doc(t, res)
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("bulk delete: %d", res.StatusCode)
	}
	poll := d.Find("#bulk-progress").AttrOr("hx-get", "")
	if poll == "" {
		t.Fatal("the status polls")
	}
	// Run the queued task with the real worker handler.
	h := cli.Handlers(e.App)
	insp := asynq.NewInspectorFromRedisClient(e.App.Redis)
	pending, err := insp.ListPendingTasks(workers.QueueDefault)
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending: %d %v", len(pending), err)
	}
	if err := h.Maintenance.HandleDeleteMatching(context.Background(), asynq.NewTask(pending[0].Type, pending[0].Payload)); err != nil {
		t.Fatal(err)
	}
	d = webtest.Doc(t, e.Get(c, poll, "HX-Request", "true"))
	if d.Find("#bulk-progress").AttrOr("data-state", "") != "done" || !strings.Contains(d.Text(), "Deleted 1 conversations") {
		t.Fatalf("status after: %q", d.Text())
	}
	counts, _ := e.App.Store.ConversationCounts(context.Background(), f.ws.ID)
	if counts.Total != 2 || counts.ByType["widget"] != 0 {
		t.Fatalf("counts: %+v", counts)
	}
	if oc, _ := e.App.Store.ConversationCounts(context.Background(), other.ws.ID); oc.ByType["widget"] != 1 {
		t.Fatal("another workspace is untouched")
	}
	// Bob cannot read Ana's job.
	cb := e.Client()
	e.Login(cb, "bob@example.com", "correct-horse")
	res = e.Get(cb, poll, "HX-Request", "true")
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("another workspace's job: %d", res.StatusCode)
	}
}

func TestRetentionSettingsAndJob(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("ana@example.com")
	ctx := context.Background()
	old := &store.Conversation{WorkspaceID: f.ws.ID, Type: model.TypeTest, Customer: "old", StartedAt: time.Now().AddDate(0, 0, -10)}
	if err := e.App.Store.CreateConversation(ctx, old); err != nil {
		t.Fatal(err)
	}
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	tok := e.CSRF(c, "/settings")
	d := webtest.Doc(t, e.PostForm(c, "/settings/retention", url.Values{"_csrf": {tok}, "test": {"0"}, "widget": {"abc"}}, "HX-Request", "true"))
	if d.Find("#retention .field-error").Length() != 2 {
		t.Fatal("bad retention values are refused beside their fields")
	}
	d = webtest.Doc(t, e.PostForm(c, "/settings/retention", url.Values{"_csrf": {tok}, "test": {"7"}, "widget": {""}, "whatsapp": {""}}, "HX-Request", "true"))
	if d.Find("#ret-test").AttrOr("value", "") != "7" {
		t.Fatal("saved value shown")
	}
	h := cli.Handlers(e.App)
	if err := h.Maintenance.HandleRetention(ctx, e.App.Tasks.Retention()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Store.GetConversation(ctx, f.ws.ID, old.ID); err != store.ErrNotFound {
		t.Fatalf("the 10-day-old test conversation must be gone: %v", err)
	}
	counts, _ := e.App.Store.ConversationCounts(ctx, f.ws.ID)
	if counts.ByType["test"] != 1 || counts.Total != 3 {
		t.Fatalf("recent test conversation and other types kept: %+v", counts)
	}
}
