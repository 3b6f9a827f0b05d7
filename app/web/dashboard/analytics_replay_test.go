package dashboard_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
)

// The analytics page counts the calls of replays and test set runs in the cost, shows their
// part apart, and never shows them as a conversation type.
func TestAnalyticsShowsReplaySpendApart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st := e.App.Store
	ws := e.User("rita@example.com", "correct-horse")
	a := &store.Assistant{WorkspaceID: ws.ID, Name: "Support"}
	if err := st.CreateAssistant(ctx, a); err != nil {
		t.Fatal(err)
	}
	today := store.Day(time.Now())
	if err := st.InsertRollups(ctx, []store.UsageDaily{
		{WorkspaceID: ws.ID, Day: today, AssistantID: a.ID, Type: model.TypeWidget, Conversations: 2, Messages: 8, LLMCalls: 4, CostNanos: 3_000_000},
		{WorkspaceID: ws.ID, Day: today, AssistantID: a.ID, Type: store.RollupTypeReplay, LLMCalls: 6, CostNanos: 1_500_000},
	}); err != nil {
		t.Fatal(err)
	}
	c := e.Client()
	e.Login(c, "rita@example.com", "correct-horse")
	res := e.Get(c, "/analytics?range=7")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	d := webtest.Doc(t, res)
	stat := func(id string) string { return strings.TrimSpace(d.Find("#stat-" + id + " dd").Text()) }
	if got, want := stat("cost"), model.Money(4_500_000).Dollars(); got != want {
		t.Errorf("cost %q, want %q", got, want)
	}
	if got, want := stat("replay-cost"), model.Money(1_500_000).Dollars(); got != want {
		t.Errorf("replay cost %q, want %q", got, want)
	}
	if got := stat("calls"); got != "10" {
		t.Errorf("calls %q, want 10", got)
	}
	for _, id := range []string{"conversations", "messages"} {
		head := strings.Join(tableCells(d, id)[0], "|")
		if strings.Contains(strings.ToLower(head), "replay") || strings.Contains(head, "No conversation") {
			t.Errorf("%s table shows replays as a conversation type: %s", id, head)
		}
	}
}
