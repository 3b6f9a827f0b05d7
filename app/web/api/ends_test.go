package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/app/web/webtest"
)

// POST /api/v1/conversations/{id}/end: 200 with the conversation as GET answers it, ended
// (reason "api", audited as the key's doing); again 200 and nothing changes (no second end);
// another workspace's or an unknown id 404; a read-only key 403. Every item of the list
// carries ended_at and end_reason, null while open.
func TestAPIConversationEnd(t *testing.T) {
	f := newAPIConvFixture(t)
	ctx := context.Background()
	st := f.e.App.Store
	if got := web.New(f.e.App).Echo().Reverse("api.conversation.end", 7); got != "/api/v1/conversations/7/end" {
		t.Fatalf("route: %q", got)
	}
	path := "/api/v1/conversations/" + webtest.Itoa(f.c1.ID) + "/end"
	end := func() map[string]any {
		t.Helper()
		status, b, h := apiConvDo(t, f.e, http.MethodPost, path, f.keyA)
		if status != http.StatusOK || h.Get("Content-Type") != "application/json" {
			t.Fatalf("POST end: %d %q %s", status, h.Get("Content-Type"), b)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%v in %s", err, b)
		}
		return m
	}
	before := time.Now().UTC().Add(-time.Second)
	first := end()
	conv, err := st.GetConversation(ctx, f.wsA.ID, f.c1.ID)
	if err != nil || conv.EndedAt == nil || conv.EndReason != model.EndAPI || conv.EndCount != 1 || conv.EndedAt.Before(before) {
		t.Fatalf("ended: %+v %v", conv, err)
	}
	if first["ended_at"] != rfc(*conv.EndedAt) || first["end_reason"] != model.EndAPI || first["id"] != float64(f.c1.ID) {
		t.Fatalf("answer: ended_at %v end_reason %v", first["ended_at"], first["end_reason"])
	}
	// The answer is the detail document.
	get := apiConvJSON(t, f.e, "/api/v1/conversations/"+webtest.Itoa(f.c1.ID), f.keyA)
	if len(first) != len(get) || first["messages"] == nil || first["customer_name"] != get["customer_name"] || first["ended_at"] != get["ended_at"] {
		t.Fatalf("answer %v\nGET %v", first, get)
	}
	// Again: 200, unchanged.
	again := end()
	if again["ended_at"] != first["ended_at"] || again["end_reason"] != model.EndAPI {
		t.Fatalf("second end changed it: %v", again)
	}
	var ends, entries int
	if err := st.DB.NewSelect().Model((*store.ConversationEnd)(nil)).ColumnExpr("count(*)").Where("conversation_id = ?", f.c1.ID).Scan(ctx, &ends); err != nil || ends != 1 {
		t.Fatalf("end rows: %d %v", ends, err)
	}
	if err := st.DB.NewSelect().Model((*store.AuditEntry)(nil)).ColumnExpr("count(*)").
		Where("workspace_id = ? AND action = ? AND actor_type = ? AND target_id = ?", f.wsA.ID, string(audit.ConversationEnd), audit.ActorAPIKey, webtest.Itoa(f.c1.ID)).
		Scan(ctx, &entries); err != nil || entries != 1 {
		t.Fatalf("audit entries: %d %v", entries, err)
	}
	// The list: the ended one with its end, every other item with nulls.
	for _, it := range apiConvList(t, f.e, "", f.keyA).Data {
		at, okAt := it["ended_at"]
		reason, okReason := it["end_reason"]
		if !okAt || !okReason {
			t.Fatalf("item without ended_at/end_reason: %v", it)
		}
		if it["id"] == float64(f.c1.ID) {
			if at != first["ended_at"] || reason != model.EndAPI {
				t.Fatalf("ended item: %v", it)
			}
		} else if at != nil || reason != nil {
			t.Fatalf("open item: %v", it)
		}
	}
	// Not found: another workspace's conversation, unknown and malformed ids.
	for _, p := range []string{webtest.Itoa(f.cB.ID), "999999", "abc", "0"} {
		if code, _ := apiConvErr(t, f.e, http.MethodPost, "/api/v1/conversations/"+p+"/end", f.keyA, http.StatusNotFound); code != "not_found" {
			t.Fatalf("%s: %q", p, code)
		}
	}
	if c, _ := st.GetConversation(ctx, f.wsB.ID, f.cB.ID); c.EndedAt != nil {
		t.Fatal("another workspace's conversation was ended")
	}
	// A read-only key may not end.
	ro := scopeKey(t, f.e, f.wsA.ID, model.ScopeRead)
	if code, _ := apiConvErr(t, f.e, http.MethodPost, "/api/v1/conversations/"+webtest.Itoa(f.c2.ID)+"/end", ro, http.StatusForbidden); code != "read_only_key" {
		t.Fatalf("read-only key: %q", code)
	}
	if c, _ := st.GetConversation(ctx, f.wsA.ID, f.c2.ID); c.EndedAt != nil {
		t.Fatal("a read-only key ended a conversation")
	}
}
