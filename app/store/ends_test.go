package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// An end is stored once with its outbox row; a customer message written after it reopens the
// conversation, one written before it (delivered late) does not; the next end is the second.
func TestEndConversationOnceAndReopen(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws := asWS(t, s, "Alpha")
		base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		c := wgConv(t, s, ws, nil, model.TypeWhatsApp, "+4915100000000", base)
		endAt := base.Add(10 * time.Minute)
		end, err := s.EndConversation(ctx, ws, c.ID, model.EndIdle, endAt)
		if err != nil || end == nil || end.Seq != 1 || end.Reason != model.EndIdle || end.ID == 0 {
			t.Fatalf("first end: %+v %v", end, err)
		}
		if again, err := s.EndConversation(ctx, ws, c.ID, model.EndAPI, time.Time{}); err != nil || again != nil {
			t.Fatalf("ending an ended conversation: %+v %v", again, err)
		}
		got, _ := s.GetConversation(ctx, ws, c.ID)
		if got.EndedAt == nil || !got.EndedAt.Equal(endAt) || got.EndReason != model.EndIdle || got.EndCount != 1 || got.EvaluationStatus != model.EvalPending {
			t.Fatalf("ended: %+v", got)
		}
		late := &store.Message{WorkspaceID: ws, ConversationID: c.ID, Role: model.RoleUser, Content: "sent before the end", CreatedAt: endAt.Add(-time.Minute)}
		if _, err := s.AddMessage(ctx, late); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.GetConversation(ctx, ws, c.ID); got.EndedAt == nil {
			t.Fatal("a message written before the end reopened the conversation")
		}
		reply := &store.Message{WorkspaceID: ws, ConversationID: c.ID, Role: model.RoleAssistant, Content: "an answer", CreatedAt: endAt.Add(time.Minute)}
		if _, err := s.AddMessage(ctx, reply); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.GetConversation(ctx, ws, c.ID); got.EndedAt == nil {
			t.Fatal("an assistant message reopened the conversation")
		}
		again := &store.Message{WorkspaceID: ws, ConversationID: c.ID, Role: model.RoleUser, Content: "one more thing", CreatedAt: endAt.Add(2 * time.Minute)}
		if _, err := s.AddMessage(ctx, again); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.GetConversation(ctx, ws, c.ID); got.EndedAt != nil || got.EndReason != "" || got.EndCount != 1 {
			t.Fatalf("reopened: %+v", got)
		}
		end2, err := s.EndConversation(ctx, ws, c.ID, model.EndWindow, endAt.Add(time.Hour))
		if err != nil || end2 == nil || end2.Seq != 2 {
			t.Fatalf("second end: %+v %v", end2, err)
		}
		var n int
		if err := s.DB.NewSelect().Model((*store.ConversationEnd)(nil)).ColumnExpr("count(*)").Where("conversation_id = ?", c.ID).Scan(ctx, &n); err != nil || n != 2 {
			t.Fatalf("end rows: %d %v", n, err)
		}
	})
}
