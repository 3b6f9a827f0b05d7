package widget_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/web/webtest"
)

// The team's notes and corrections (issue 14: review) are never shown to the customer: the
// widget's history of a conversation carries neither, on the conversation nor on its messages.
func TestWidgetNeverShowsNotesOrCorrections(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin)
	id, tok := e.WSession(a, "visitor-000R")
	res, out := e.WJSON("POST", "/api/widget/v1/sessions/"+id+"/messages", map[string]string{"text": "Do you ship to Lisbon?"}, "Authorization", "Bearer "+tok)
	if res.StatusCode != 200 {
		t.Fatalf("send: %d %v", res.StatusCode, out)
	}
	convID, _ := strconv.ParseInt(id, 10, 64)
	replyID, _ := strconv.ParseInt(out["reply"].(map[string]any)["id"].(string), 10, 64)
	ctx := audit.WithActor(context.Background(), audit.System)
	if _, err := e.App.Review.AddNote(ctx, ws.ID, convID, "SECRETNOTE about the customer", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Review.AddNote(ctx, ws.ID, convID, "SECRETMSGNOTE on the reply", replyID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Review.Correct(ctx, ws.ID, convID, replyID, "SECRETCORRECTION: yes we do"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Review.Tag(ctx, ws.ID, convID, "SECRETTAG"); err != nil {
		t.Fatal(err)
	}
	res, out = e.WJSON("GET", "/api/widget/v1/sessions/"+id+"/messages", nil, "Authorization", "Bearer "+tok)
	raw, _ := json.Marshal(out)
	if res.StatusCode != 200 || len(out["messages"].([]any)) < 2 {
		t.Fatalf("history: %d %s", res.StatusCode, raw)
	}
	if strings.Contains(string(raw), "SECRET") || strings.Contains(string(raw), "correction") || strings.Contains(string(raw), "note") {
		t.Fatalf("the widget's history shows the team's review: %s", raw)
	}
}
