package audit_test

import (
	"context"
	"testing"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/store"
)

// The actor travels in the context (the system without one); entries carry it with the
// action, target and details as a JSON object.
func TestActorAndEntry(t *testing.T) {
	ctx := context.Background()
	if a := audit.ActorFrom(ctx); a != audit.System {
		t.Fatalf("no actor: %+v", a)
	}
	u := audit.UserActor(&store.User{ID: 12, Email: "ann@example.com"})
	ctx = audit.WithActor(ctx, u)
	e := audit.New(ctx, 3, audit.ConversationDelete, audit.On(audit.TargetConversation, 42), map[string]any{"why": "asked"})
	if e.WorkspaceID != 3 || e.ActorType != "user" || e.ActorID != "12" || e.ActorName != "ann@example.com" ||
		e.Action != "conversation.delete" || e.TargetType != "conversation" || e.TargetID != "42" || e.Details != `{"why":"asked"}` {
		t.Fatalf("entry: %+v", e)
	}
	named := audit.UserActor(&store.User{ID: 12, Email: "ann@example.com", Name: "Ann"})
	if named.Name != "Ann" {
		t.Fatalf("a named user: %+v", named)
	}
	k := audit.New(audit.WithActor(context.Background(), audit.KeyActor(&store.APIKey{ID: 5, Name: "CRM"})), 3, audit.APIKeyRevoke, audit.On(audit.TargetAPIKey, 0), nil)
	if k.ActorType != "api_key" || k.ActorID != "5" || k.TargetID != "" || k.Details != "{}" {
		t.Fatalf("key entry: %+v", k)
	}
	audit.SetDetails(k, []string{"a"}) // not an object: wrapped
	if k.Details != `{"value":["a"]}` {
		t.Fatalf("details: %s", k.Details)
	}
	if typ, id := audit.ParseActor("api_key:5"); typ != "api_key" || id != "5" {
		t.Fatalf("parse: %s %s", typ, id)
	}
	if typ, id := audit.ParseActor("system"); typ != "system" || id != "" || audit.ActorKey("system", "") != "system" {
		t.Fatalf("parse system: %s %s", typ, id)
	}
	if !audit.Known("user.sign_in") || audit.Known("nope") || audit.Label("user.sign_in") != "Signed in" {
		t.Fatal("actions")
	}
}
