package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// Helpers of this file carry an "as" prefix.

func asWS(t *testing.T, s *store.Store, name string) int64 {
	t.Helper()
	w, _, err := s.CreateWorkspaceWithUser(context.Background(), name, strings.ToLower(name)+"@example.com", "hash")
	if err != nil {
		t.Fatal(err)
	}
	return w.ID
}

func asCreate(t *testing.T, s *store.Store, a *store.Assistant) *store.Assistant {
	t.Helper()
	if err := s.CreateAssistant(context.Background(), a); err != nil {
		t.Fatalf("create assistant %q: %v", a.Name, err)
	}
	if a.ID == 0 {
		t.Fatal("assistant without id")
	}
	return a
}

func asPtr(s string) *string { return &s }

func TestAssistantCRUDIsScoped(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		wsA, wsB := asWS(t, s, "A"), asWS(t, s, "B")
		a := asCreate(t, s, &store.Assistant{WorkspaceID: wsA, Name: "Zed", Model: "m", Temperature: 0.5})
		asCreate(t, s, &store.Assistant{WorkspaceID: wsA, Name: "Alpha", Model: "m"})
		asCreate(t, s, &store.Assistant{WorkspaceID: wsB, Name: "Other", Model: "m"})
		if !strings.HasPrefix(a.PublicKey, "pa_") { // the JSON columns' defaults: TestAssistantColumnsKeepTheirJSONText
			t.Fatalf("defaults: %+v", a)
		}

		list, err := s.Assistants(ctx, wsA)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].Name != "Alpha" || list[1].Name != "Zed" {
			t.Fatalf("list A: %+v", list)
		}

		if _, err := s.AssistantByID(ctx, wsB, a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other workspace by id: %v", err)
		}
		got, err := s.AssistantByPublicKey(ctx, a.PublicKey)
		if err != nil || got.ID != a.ID || got.WorkspaceID != wsA {
			t.Fatalf("by public key: %+v %v", got, err)
		}
		if _, err := s.AssistantByPublicKey(ctx, "pa_nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown public key: %v", err)
		}

		// Update: another workspace's id is not found and changes nothing.
		upd := *a
		upd.WorkspaceID = wsB
		upd.Name = "Hijacked"
		if err := s.UpdateAssistant(ctx, &upd); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update across workspaces: %v", err)
		}
		upd = *a
		upd.Name, upd.Variables, upd.Temperature = "Zed 2", []model.Variable{{Name: "email"}}, 1.5
		upd.PublicKey = "pa_changed" // not an editable column
		if err := s.UpdateAssistant(ctx, &upd); err != nil {
			t.Fatal(err)
		}
		got, err = s.AssistantByID(ctx, wsA, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Zed 2" || len(got.Variables) != 1 || got.Variables[0].Name != "email" || got.Variables[0].Type != "text" || got.Temperature != 1.5 || got.PublicKey != a.PublicKey {
			t.Fatalf("after update: %+v", got)
		}
		if !got.CreatedAt.Equal(a.CreatedAt) || got.UpdatedAt.Before(a.UpdatedAt) {
			t.Fatalf("times: created %v/%v updated %v", got.CreatedAt, a.CreatedAt, got.UpdatedAt)
		}

		// Delete: another workspace cannot; the owner can; conversations stay with no assistant.
		conv := &store.Conversation{WorkspaceID: wsA, AssistantID: &a.ID, Type: model.TypeTest, Customer: "c"}
		if err := s.CreateConversation(ctx, conv); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteAssistant(ctx, wsB, a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete across workspaces: %v", err)
		}
		if err := s.DeleteAssistant(ctx, wsA, a.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteAssistant(ctx, wsA, a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		c, err := s.GetConversation(ctx, wsA, conv.ID)
		if err != nil {
			t.Fatalf("conversation after its assistant was deleted: %v", err)
		}
		if c.AssistantID != nil {
			t.Fatalf("assistant_id = %d, want NULL", *c.AssistantID)
		}
	})
}

func TestAssistantPhoneNumberIDIsUnique(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		wsA, wsB := asWS(t, s, "A"), asWS(t, s, "B")
		a := asCreate(t, s, &store.Assistant{WorkspaceID: wsA, Name: "A", WhatsAppPhoneNumberID: asPtr("1001"), WhatsAppAccessTokenEnc: "enc"})
		// Two assistants without a connection do not collide (NULL is not a duplicate).
		b := asCreate(t, s, &store.Assistant{WorkspaceID: wsB, Name: "B"})
		asCreate(t, s, &store.Assistant{WorkspaceID: wsB, Name: "C"})

		err := s.CreateAssistant(ctx, &store.Assistant{WorkspaceID: wsB, Name: "Dup", WhatsAppPhoneNumberID: asPtr("1001")})
		if !errors.Is(err, store.ErrPhoneNumberTaken) || !store.IsUniqueViolation(err) {
			t.Fatalf("create with a taken phone number id: %v", err)
		}
		b.WhatsAppPhoneNumberID = asPtr("1001")
		if err := s.UpdateAssistant(ctx, b); !errors.Is(err, store.ErrPhoneNumberTaken) {
			t.Fatalf("update to a taken phone number id: %v", err)
		}
		_, err = s.ModifyAssistant(ctx, wsB, b.ID, func(x *store.Assistant) error {
			x.Name = "B renamed"
			x.WhatsAppPhoneNumberID = asPtr("1001")
			return nil
		})
		if !errors.Is(err, store.ErrPhoneNumberTaken) {
			t.Fatalf("modify to a taken phone number id: %v", err)
		}
		got, err := s.AssistantByID(ctx, wsB, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "B" || got.WhatsAppPhoneNumberID != nil {
			t.Fatalf("a failed modify left changes: %+v", got)
		}

		// a's connection was never confirmed by Meta: webhooks of the number reach nobody.
		if byPhone, err := s.AssistantByPhoneNumberID(ctx, "1001"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("by phone number id, unconfirmed: %+v %v", byPhone, err)
		}
		if holder, err := s.PhoneNumberHolder(ctx, "1001"); err != nil || holder.ID != a.ID {
			t.Fatalf("holder: %+v %v", holder, err)
		}
		at := store.Now()
		if err := s.ConfirmPhoneNumber(ctx, wsA, a.ID, "1001", "other-token", "+1 555-0101", "A Inc", at); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("confirm with another token than the stored one: %v", err)
		}
		if err := s.ConfirmPhoneNumber(ctx, wsA, a.ID, "1001", "enc", "+1 555-0101", "A Inc", at); err != nil {
			t.Fatal(err)
		}
		byPhone, err := s.AssistantByPhoneNumberID(ctx, "1001")
		if err != nil || byPhone.ID != a.ID || byPhone.WhatsAppDisplayPhoneNumber != "+1 555-0101" || byPhone.WhatsAppVerifiedName != "A Inc" ||
			byPhone.WhatsAppVerifiedAt == nil || !byPhone.WhatsAppVerifiedAt.Equal(at) {
			t.Fatalf("by phone number id: %+v %v", byPhone, err)
		}
		if _, err := s.AssistantByPhoneNumberID(ctx, ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("empty phone number id: %v", err)
		}
		if _, err := s.AssistantByPhoneNumberID(ctx, "999"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown phone number id: %v", err)
		}

		// Once A lets the number go, B can take it.
		if _, err := s.ModifyAssistant(ctx, wsA, a.ID, func(x *store.Assistant) error {
			x.WhatsAppPhoneNumberID, x.WhatsAppAccessTokenEnc = nil, ""
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		b.WhatsAppPhoneNumberID = asPtr("1001")
		if err := s.UpdateAssistant(ctx, b); err != nil {
			t.Fatalf("take a released number: %v", err)
		}
	})
}

func TestModifyAssistant(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		wsA, wsB := asWS(t, s, "A"), asWS(t, s, "B")
		a := asCreate(t, s, &store.Assistant{WorkspaceID: wsA, Name: "A", Model: "m"})

		if _, err := s.ModifyAssistant(ctx, wsB, a.ID, func(*store.Assistant) error { t.Error("fn called across workspaces"); return nil }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("modify across workspaces: %v", err)
		}
		stop := errors.New("invalid")
		if _, err := s.ModifyAssistant(ctx, wsA, a.ID, func(x *store.Assistant) error { x.Name = "half"; return stop }); !errors.Is(err, stop) {
			t.Fatalf("fn error: %v", err)
		}
		// fn cannot move the row to another workspace or id.
		got, err := s.ModifyAssistant(ctx, wsA, a.ID, func(x *store.Assistant) error {
			x.Name, x.WorkspaceID, x.ID = "renamed", wsB, 999
			return nil
		})
		if err != nil || got.Name != "renamed" || got.ID != a.ID || got.WorkspaceID != wsA {
			t.Fatalf("modify: %+v %v", got, err)
		}

		// Concurrent modifications of different fields both land.
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.ModifyAssistant(ctx, wsA, a.ID, func(x *store.Assistant) error {
					x.SystemPrompt += string(rune('a' + i))
					return nil
				})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err = s.AssistantByID(ctx, wsA, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.SystemPrompt) != 20 {
			t.Fatalf("lost updates: system prompt %q", got.SystemPrompt)
		}
	})
}

// A number belongs to whoever proves it: a connection Meta confirmed takes the number from an
// assistant that holds it unconfirmed (connected before numbers were confirmed), in any
// workspace, in the same transaction; a confirmed holder keeps it against everyone
// (ErrPhoneNumberTaken, 409), confirmed or not.
func TestConfirmedNumberTakesItFromAnUnconfirmedHolder(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		wsS, wsO, wsX := asWS(t, s, "Squatter"), asWS(t, s, "Owner"), asWS(t, s, "Other")
		squat := asCreate(t, s, &store.Assistant{WorkspaceID: wsS, Name: "S", WhatsAppPhoneNumberID: asPtr("2002"), WhatsAppAccessTokenEnc: "enc-s"})

		// An unconfirmed claim takes nothing.
		if err := s.CreateAssistant(ctx, &store.Assistant{WorkspaceID: wsO, Name: "O0", WhatsAppPhoneNumberID: asPtr("2002"), WhatsAppAccessTokenEnc: "enc-o"}); !errors.Is(err, store.ErrPhoneNumberTaken) {
			t.Fatalf("unconfirmed claim of a held number: %v", err)
		}
		at := store.Now()
		owner := &store.Assistant{WorkspaceID: wsO, Name: "O", WhatsAppPhoneNumberID: asPtr("2002"), WhatsAppAccessTokenEnc: "enc-o",
			WhatsAppDisplayPhoneNumber: "+1 555-0202", WhatsAppVerifiedName: "Owner Inc", WhatsAppVerifiedAt: &at}
		if err := s.CreateAssistant(ctx, owner); err != nil {
			t.Fatalf("the proven owner is refused: %v", err)
		}
		got, err := s.AssistantByID(ctx, wsS, squat.ID)
		if err != nil || got.WhatsAppPhoneNumberID != nil || got.WhatsAppAccessTokenEnc != "" {
			t.Fatalf("the unconfirmed holder kept the number: %+v %v", got, err)
		}
		if a, err := s.AssistantByPhoneNumberID(ctx, "2002"); err != nil || a.ID != owner.ID || a.WorkspaceID != wsO {
			t.Fatalf("webhooks route to %+v %v", a, err)
		}

		// Confirmed: nobody else takes it, confirmed (create, update, modify) or not.
		other := asCreate(t, s, &store.Assistant{WorkspaceID: wsX, Name: "X"})
		at2 := store.Now()
		err = s.CreateAssistant(ctx, &store.Assistant{WorkspaceID: wsX, Name: "X2", WhatsAppPhoneNumberID: asPtr("2002"), WhatsAppVerifiedAt: &at2})
		if !errors.Is(err, store.ErrPhoneNumberTaken) {
			t.Fatalf("confirmed create of a confirmed number: %v", err)
		}
		_, err = s.ModifyAssistant(ctx, wsX, other.ID, func(x *store.Assistant) error {
			x.Name, x.WhatsAppPhoneNumberID, x.WhatsAppVerifiedAt = "X renamed", asPtr("2002"), &at2
			return nil
		})
		if !errors.Is(err, store.ErrPhoneNumberTaken) {
			t.Fatalf("confirmed modify to a confirmed number: %v", err)
		}
		other.WhatsAppPhoneNumberID = asPtr("2002")
		if err := s.UpdateAssistant(ctx, other); !errors.Is(err, store.ErrPhoneNumberTaken) {
			t.Fatalf("unconfirmed update to a confirmed number: %v", err)
		}
		if a, err := s.AssistantByPhoneNumberID(ctx, "2002"); err != nil || a.ID != owner.ID || a.WhatsAppVerifiedName != "Owner Inc" {
			t.Fatalf("after the refused claims: %+v %v", a, err)
		}
		if x, err := s.AssistantByID(ctx, wsX, other.ID); err != nil || x.Name != "X" || x.WhatsAppPhoneNumberID != nil {
			t.Fatalf("a refused claim left changes: %+v %v", x, err)
		}
	})
}
