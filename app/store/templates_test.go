package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

func TestWhatsAppTemplates(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		w1, _, err := s.CreateWorkspaceWithUser(ctx, "W1", "t1@example.com", "x")
		if err != nil {
			t.Fatal(err)
		}
		w2, _, err := s.CreateWorkspaceWithUser(ctx, "W2", "t2@example.com", "x")
		if err != nil {
			t.Fatal(err)
		}
		pid := "P1"
		a := &store.Assistant{WorkspaceID: w1.ID, Name: "Shop", WhatsAppPhoneNumberID: &pid}
		if err := s.CreateAssistant(ctx, a); err != nil {
			t.Fatal(err)
		}
		tpl := &store.WhatsAppTemplate{WorkspaceID: w1.ID, AssistantID: a.ID, Name: "order_update", Language: "en_US", Category: "UTILITY", Body: "Hi {{1}}", Params: "name, order"}
		if err := s.CreateWhatsAppTemplate(ctx, tpl); err != nil || tpl.ID == 0 || tpl.Source != "manual" {
			t.Fatalf("create: %v %+v", err, tpl)
		}
		if got := tpl.ParamNames(); len(got) != 2 || got[0] != "name" || got[1] != "order" {
			t.Fatalf("ParamNames: %q", got)
		}
		dup := &store.WhatsAppTemplate{WorkspaceID: w1.ID, AssistantID: a.ID, Name: "order_update", Language: "en_US", Category: "MARKETING", Body: "x"}
		if err := s.CreateWhatsAppTemplate(ctx, dup); !errors.Is(err, store.ErrTemplateExists) {
			t.Fatalf("duplicate: %v", err)
		}
		// Same name, another language: allowed.
		if err := s.CreateWhatsAppTemplate(ctx, &store.WhatsAppTemplate{WorkspaceID: w1.ID, AssistantID: a.ID, Name: "order_update", Language: "fr", Category: "UTILITY", Body: "Salut {{1}}"}); err != nil {
			t.Fatal(err)
		}
		// Upsert: updates the body and category, keeps params; inserts new ones; idempotent.
		for i := 0; i < 2; i++ {
			n, err := s.UpsertWhatsAppTemplates(ctx, []store.WhatsAppTemplate{
				{WorkspaceID: w1.ID, AssistantID: a.ID, Name: "order_update", Language: "en_US", Category: "MARKETING", Body: "Hello {{1}}"},
				{WorkspaceID: w1.ID, AssistantID: a.ID, Name: "otp", Language: "en", Category: "AUTHENTICATION", Body: "Code {{1}}"},
			})
			if err != nil || n != 2 {
				t.Fatalf("upsert: %d %v", n, err)
			}
		}
		ts, err := s.WhatsAppTemplates(ctx, w1.ID, a.ID)
		if err != nil || len(ts) != 3 {
			t.Fatalf("list: %v %+v", err, ts)
		}
		if ts[0].Name != "order_update" || ts[0].Language != "en_US" || ts[0].Body != "Hello {{1}}" || ts[0].Category != "MARKETING" || ts[0].Params != "name, order" || ts[0].Source != "meta" {
			t.Fatalf("upserted: %+v", ts[0])
		}
		// Another workspace sees nothing and deletes nothing.
		if ts, _ := s.WhatsAppTemplates(ctx, w2.ID, 0); len(ts) != 0 {
			t.Fatalf("w2 sees %+v", ts)
		}
		if _, err := s.WhatsAppTemplateByID(ctx, w2.ID, tpl.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("by id from w2: %v", err)
		}
		if err := s.DeleteWhatsAppTemplate(ctx, w2.ID, tpl.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete from w2: %v", err)
		}
		if err := s.DeleteWhatsAppTemplate(ctx, w1.ID, tpl.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WhatsAppTemplateByID(ctx, w1.ID, tpl.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
		// Deleting the assistant deletes its templates.
		if err := s.DeleteAssistant(ctx, w1.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if ts, _ := s.WhatsAppTemplates(ctx, w1.ID, 0); len(ts) != 0 {
			t.Fatalf("after the assistant's deletion: %+v", ts)
		}
		// The AI switch.
		c := &store.Conversation{WorkspaceID: w1.ID, Type: model.TypeWhatsApp, Customer: "+1", AIEnabled: true}
		if err := s.CreateConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := s.SetAIEnabled(ctx, w2.ID, c.ID, false, "Eve"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("switch from w2: %v", err)
		}
		if err := s.SetAIEnabled(ctx, w1.ID, c.ID, false, "Ana"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetConversation(ctx, w1.ID, c.ID); got.AIEnabled || got.AIChangedBy != "Ana" || got.AIChangedAt == nil {
			t.Fatalf("after Ana took over: %+v", got)
		}
	})
}
