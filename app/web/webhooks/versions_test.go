package webhooks_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
)

// A WhatsApp conversation records the version published when it started (issue 15), not a
// draft, through the batched inbound path (webhook -> inbound event -> task).
func TestWhatsAppConversationRecordsPublishedVersion(t *testing.T) {
	e := webtest.WhEnv(t, testkit.Config(t))
	ws := e.User("ana@shop.test", "correct-horse")
	mux := webtest.WhWorker(t, e.App, ws.ID)
	ctx := context.Background()
	as, err := e.App.Store.Assistants(ctx, ws.ID)
	if err != nil || len(as) != 1 {
		t.Fatalf("assistants: %v %d", err, len(as))
	}
	id := as[0].ID
	prompt := func(p string) func(*store.Assistant, model.Behaviour) (model.Behaviour, error) {
		return func(_ *store.Assistant, b model.Behaviour) (model.Behaviour, error) {
			b.SystemPrompt = p
			return b, nil
		}
	}
	if _, err := e.App.Versions.Save(ctx, ws.ID, id, prompt("v2"), true, nil); err != nil { // published
		t.Fatal(err)
	}
	if _, err := e.App.Versions.Save(ctx, ws.ID, id, prompt("v3"), false, nil); err != nil { // a draft
		t.Fatal(err)
	}
	body := []byte(`{"object":"whatsapp_business_account","entry":[
	 {"id":"W1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"` + webtest.WhPhoneID + `"},
	   "contacts":[{"profile":{"name":"Ada"},"wa_id":"111"}],
	   "messages":[{"from":"111","id":"wamid.V1","timestamp":"1749416383","type":"text","text":{"body":"hello"}}]}}]}]}`)
	if c := webtest.WhSigned(t, e, body); c != http.StatusOK {
		t.Fatal(c)
	}
	webtest.WhDrain(t, e.App, mux)
	var convs []store.Conversation
	if err := e.App.Store.DB.NewSelect().Model(&convs).Where("workspace_id = ?", ws.ID).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if len(convs) != 1 || convs[0].AssistantVersion == nil || *convs[0].AssistantVersion != 2 {
		t.Fatalf("conversations %+v, want one that started with v2", convs)
	}
}
