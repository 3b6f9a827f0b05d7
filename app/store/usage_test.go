package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// Helpers of this file carry a "ug" prefix.

type ugFixture struct {
	ws, conv, other int64 // workspace, its conversation, another workspace
}

func ugSetup(t *testing.T, s *store.Store) ugFixture {
	t.Helper()
	ctx := context.Background()
	w, _, err := s.CreateWorkspaceWithUser(ctx, "Usage", "usage@example.com", "hash")
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := s.CreateWorkspaceWithUser(ctx, "Other", "other@example.com", "hash")
	if err != nil {
		t.Fatal(err)
	}
	c := &store.Conversation{WorkspaceID: w.ID, Type: model.TypeTest}
	if err := s.CreateConversation(ctx, c); err != nil {
		t.Fatal(err)
	}
	return ugFixture{ws: w.ID, conv: c.ID, other: o.ID}
}

func ugEntry(f ugFixture, requestID string) *store.UsageEntry {
	conv := f.conv
	return &store.UsageEntry{
		WorkspaceID: f.ws, ConversationID: &conv, ConversationType: model.TypeTest, RequestID: requestID,
		Purpose: store.PurposeReply, Model: "gpt-4o-mini", PromptTokens: 1234, CachedTokens: 200, CompletionTokens: 567,
		CostNanos: 525300, PriceEntry: `{"match":"gpt-4o-mini"}`, Charged: false,
	}
}

func ugCount(t *testing.T, s *store.Store, requestID string) int64 {
	t.Helper()
	n, err := s.DB.NewSelect().Model((*store.UsageEntry)(nil)).Where("request_id = ?", requestID).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUsageInsertOncePerRequestID(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := ugSetup(t, s)
		e := ugEntry(f, "reply:1:1")
		ok, err := s.InsertUsage(ctx, e)
		if err != nil || !ok || e.ID == 0 {
			t.Fatalf("first insert: %v %v id=%d", ok, err, e.ID)
		}
		dup := ugEntry(f, "reply:1:1")
		dup.CostNanos = 999
		ok, err = s.InsertUsage(ctx, dup)
		if err != nil || ok {
			t.Fatalf("duplicate insert: inserted=%v err=%v", ok, err)
		}
		if n := ugCount(t, s, "reply:1:1"); n != 1 {
			t.Fatalf("%d rows for one request id", n)
		}
		got, err := s.UsageByRequestID(ctx, f.ws, "reply:1:1")
		if err != nil {
			t.Fatal(err)
		}
		if got.CostNanos != 525300 || got.PromptTokens != 1234 || got.CachedTokens != 200 || got.CompletionTokens != 567 ||
			got.Charged || got.Purpose != "reply" || got.ConversationType != "test" || got.PriceEntry != `{"match":"gpt-4o-mini"}` ||
			got.ConversationID == nil || *got.ConversationID != f.conv || got.TalliedAt != nil || !got.CreatedAt.Equal(e.CreatedAt) {
			t.Fatalf("stored %+v", got)
		}
		if _, err := s.UsageByRequestID(ctx, f.other, "reply:1:1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace must not see the row: %v", err)
		}
	})
}

func TestUsageConcurrentDuplicatesRecordedOnce(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := ugSetup(t, s)
		const n = 10
		var wg sync.WaitGroup
		results := make([]bool, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errs[i] = s.InsertUsage(ctx, ugEntry(f, "extraction:7:9"))
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("goroutine %d: %v", i, errs[i])
			}
			if results[i] {
				won++
			}
		}
		if won != 1 {
			t.Fatalf("%d goroutines report an insert, want 1", won)
		}
		if c := ugCount(t, s, "extraction:7:9"); c != 1 {
			t.Fatalf("%d rows, want 1", c)
		}
	})
}

func TestUsageAddingToConversationCountsOnce(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := ugSetup(t, s)
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := ugEntry(f, "extraction:1:2")
				e.Purpose = store.PurposeExtraction
				if _, err := s.InsertUsageAddingToConversation(ctx, e); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		c, err := s.GetConversation(ctx, f.ws, f.conv)
		if err != nil {
			t.Fatal(err)
		}
		if c.PromptTokens != 1234 || c.CachedTokens != 200 || c.CompletionTokens != 567 || c.CostNanos != 525300 {
			t.Fatalf("conversation totals %d/%d/%d/%d, want one call's", c.PromptTokens, c.CachedTokens, c.CompletionTokens, c.CostNanos)
		}
	})
}

func TestUsageAddMessageWithUsage(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := ugSetup(t, s)
		const n = 10
		var wg sync.WaitGroup
		ids := make([]int64, n)
		won := make([]bool, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := &store.Message{WorkspaceID: f.ws, ConversationID: f.conv, Role: "assistant", Content: "Hello!",
					PromptTokens: 1234, CachedTokens: 200, CompletionTokens: 567, CostNanos: 525300}
				ok, err := s.AddMessageWithUsage(ctx, m, ugEntry(f, "reply:5:5"))
				if err != nil {
					t.Error(err)
					return
				}
				ids[i], won[i] = m.ID, ok
			}()
		}
		wg.Wait()
		winners := 0
		for i := range n {
			if won[i] {
				winners++
			}
			if ids[i] == 0 || ids[i] != ids[0] {
				t.Fatalf("every caller must learn the one message id: %v", ids)
			}
		}
		if winners != 1 {
			t.Fatalf("%d inserts, want 1", winners)
		}
		c, err := s.GetConversation(ctx, f.ws, f.conv)
		if err != nil {
			t.Fatal(err)
		}
		if c.MessageCount != 1 || c.CostNanos != 525300 || c.PromptTokens != 1234 {
			t.Fatalf("conversation: %d messages, cost %d, prompt %d", c.MessageCount, c.CostNanos, c.PromptTokens)
		}
		e, err := s.UsageByRequestID(ctx, f.ws, "reply:5:5")
		if err != nil || e.MessageID == nil || *e.MessageID != ids[0] {
			t.Fatalf("ledger row %+v, %v", e, err)
		}
	})
}

func TestUsageReads(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := ugSetup(t, s)
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		for i, model := range []string{"gpt-4o-mini", "mystery-1", "mystery-2", "mystery-1", "old-mystery"} {
			e := ugEntry(f, fmt.Sprintf("r%d", i))
			e.Model = model
			e.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
			if model != "gpt-4o-mini" {
				e.PriceEntry, e.CostNanos = "", 0
			}
			if model == "old-mystery" {
				e.CreatedAt = t0.Add(-48 * time.Hour)
			}
			if ok, err := s.InsertUsage(ctx, e); err != nil || !ok {
				t.Fatal(ok, err)
			}
		}
		o := ugEntry(f, "other-ws")
		o.WorkspaceID, o.ConversationID, o.Model, o.PriceEntry = f.other, nil, "theirs", ""
		if _, err := s.InsertUsage(ctx, o); err != nil {
			t.Fatal(err)
		}
		rows, err := s.ConversationUsage(ctx, f.ws, f.conv)
		if err != nil || len(rows) != 5 || rows[0].Model != "old-mystery" || rows[1].RequestID != "r0" || rows[4].RequestID != "r3" {
			t.Fatalf("conversation usage: %v %+v", err, rows)
		}
		models, err := s.UnpricedModels(ctx, f.ws, t0.Add(-time.Hour))
		if err != nil || fmt.Sprint(models) != "[mystery-1 mystery-2]" {
			t.Fatalf("unpriced models: %v %v", models, err)
		}
		if rows, _ := s.ConversationUsage(ctx, f.other, f.conv); len(rows) != 0 {
			t.Fatal("another workspace must not see the conversation's usage")
		}
	})
}

func TestUsageRejectsIncompleteEntries(t *testing.T) {
	s := testkit.NewSQLiteDB(t).Open(t)
	f := ugSetup(t, s)
	for _, mod := range []func(*store.UsageEntry){
		func(e *store.UsageEntry) { e.RequestID = " " },
		func(e *store.UsageEntry) { e.WorkspaceID = 0 },
		func(e *store.UsageEntry) { e.Model = "" },
		func(e *store.UsageEntry) { e.Purpose = "chat" },
	} {
		e := ugEntry(f, "x")
		mod(e)
		if _, err := s.InsertUsage(context.Background(), e); !errors.Is(err, store.ErrUsageEntryInvalid) {
			t.Fatalf("got %v", err)
		}
	}
}

// Replies, variables, extraction ledger rows and plain messages written concurrently on one
// conversation: each transaction takes the conversation's row lock first, so none of them
// deadlocks (PostgreSQL reported "deadlock detected" for a reply racing an extraction when the
// foreign-key checks' KEY SHARE locks were upgraded to the conversation's update), and the
// totals add up.
func TestConcurrentWritersOnOneConversationDoNotDeadlock(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := ugSetup(t, s)
		const n = 12
		var wg sync.WaitGroup
		errs := make(chan error, 4*n)
		for i := 0; i < n; i++ {
			wg.Add(4)
			go func() {
				defer wg.Done()
				// The message carries no tokens here (usage.RecordReply copies them); the
				// extraction rows below add theirs to the totals.
				m := &store.Message{WorkspaceID: f.ws, ConversationID: f.conv, Role: "assistant", Content: "reply"}
				_, err := s.AddMessageWithUsage(ctx, m, ugEntry(f, fmt.Sprintf("dl-reply-%d", i)))
				errs <- err
			}()
			go func() {
				defer wg.Done()
				errs <- s.SetVariable(ctx, &store.ConversationVariable{WorkspaceID: f.ws, ConversationID: f.conv,
					Name: fmt.Sprintf("v%d", i), Value: "x", Source: "api"})
			}()
			go func() {
				defer wg.Done()
				e := ugEntry(f, fmt.Sprintf("dl-extract-%d", i))
				e.Purpose = store.PurposeExtraction
				_, err := s.InsertUsageAddingToConversation(ctx, e)
				errs <- err
			}()
			go func() {
				defer wg.Done()
				_, err := s.AddMessage(ctx, &store.Message{WorkspaceID: f.ws, ConversationID: f.conv, Role: "user", Content: "hello"})
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
		c, err := s.GetConversation(ctx, f.ws, f.conv)
		if err != nil {
			t.Fatal(err)
		}
		if c.MessageCount != 2*n || c.UserMessageCount != n || c.PromptTokens != n*1234 || c.CostNanos != n*525300 {
			t.Fatalf("totals: messages %d (user %d), prompt tokens %d, cost %d", c.MessageCount, c.UserMessageCount, c.PromptTokens, c.CostNanos)
		}
	})
}
