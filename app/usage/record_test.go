package usage_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/usage"
)

type fixture struct {
	ws                 int64
	testConv, liveConv int64
}

func setup(t *testing.T, s *store.Store) fixture {
	t.Helper()
	ctx := context.Background()
	w, _, err := s.CreateWorkspaceWithUser(ctx, "Acme", "owner@acme.test", "hash")
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{ws: w.ID}
	for _, c := range []struct {
		typ string
		id  *int64
	}{{model.TypeTest, &f.testConv}, {model.TypeWidget, &f.liveConv}} {
		conv := &store.Conversation{WorkspaceID: w.ID, Type: c.typ}
		if err := s.CreateConversation(ctx, conv); err != nil {
			t.Fatal(err)
		}
		*c.id = conv.ID
	}
	return f
}

func ptr(v int64) *int64 { return &v }

func TestRecordPricesAndStoresOnce(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := setup(t, s)
		call := usage.Call{
			WorkspaceID: f.ws, ConversationID: ptr(f.testConv), AssistantID: ptr(3), ConversationType: model.TypeTest,
			RequestID: "reply:1:1", Purpose: usage.PurposeReply, Model: "gpt-4o-mini-2024-07-18",
			Tokens: usage.Tokens{Prompt: 1234, Completion: 567},
		}
		r, err := usage.Record(ctx, s, usage.Default(), call)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Inserted || r.Cost.Nanos != 525_300 || r.Warning() != "" {
			t.Fatalf("recorded %+v", r)
		}
		got, err := s.UsageByRequestID(ctx, f.ws, "reply:1:1")
		if err != nil {
			t.Fatal(err)
		}
		if got.CostNanos != 525_300 || got.Charged || got.Model != "gpt-4o-mini-2024-07-18" || got.Purpose != "reply" ||
			got.AssistantID == nil || *got.AssistantID != 3 || got.ConversationType != model.TypeTest {
			t.Fatalf("row %+v", got)
		}
		var p usage.Price
		if err := json.Unmarshal([]byte(got.PriceEntry), &p); err != nil || p.InputPer1M != "0.15" || p.OutputPer1M != "0.60" || p.Source != usage.SourceDefault {
			t.Fatalf("price entry %q: %v", got.PriceEntry, err)
		}
		if ep, ok := usage.EntryPrice(*got); !ok || ep != p || usage.EntryWarning(*got) != "" {
			t.Fatalf("EntryPrice %+v %v", ep, ok)
		}

		// A retried job: same request id, nothing more is written.
		call.Tokens.Completion = 9999
		r, err = usage.Record(ctx, s, usage.Default(), call)
		if err != nil || r.Inserted {
			t.Fatalf("retry: %+v %v", r, err)
		}
		if rows, _ := s.ConversationUsage(ctx, f.ws, f.testConv); len(rows) != 1 || rows[0].CompletionTokens != 567 {
			t.Fatalf("rows %+v", rows)
		}
	})
}

func TestRecordChargesLiveConversationsAndWarnsUnpriced(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := setup(t, s)
		r, err := usage.Record(ctx, s, usage.Default(), usage.Call{
			WorkspaceID: f.ws, ConversationID: ptr(f.liveConv), ConversationType: model.TypeWidget,
			RequestID: "extraction:2:1", Purpose: usage.PurposeExtraction, Model: "mystery-9000",
			Tokens: usage.Tokens{Prompt: 100, Completion: 10},
		})
		if err != nil {
			t.Fatal(err)
		}
		if r.Cost.Found || r.Entry.CostNanos != 0 || r.Warning() != "no price for model mystery-9000" {
			t.Fatalf("recorded %+v", r)
		}
		got, err := s.UsageByRequestID(ctx, f.ws, "extraction:2:1")
		if err != nil || !got.Charged || got.PriceEntry != "" || got.PromptTokens != 100 {
			t.Fatalf("row %+v, %v", got, err)
		}
		if w := usage.EntryWarning(*got); w != "no price for model mystery-9000" {
			t.Fatalf("warning %q", w)
		}
		if _, ok := usage.EntryPrice(*got); ok {
			t.Fatal("an unpriced row has no price entry")
		}
	})
}

func TestRecordConcurrentRetriesCountOnce(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := setup(t, s)
		var wg sync.WaitGroup
		var mu sync.Mutex
		inserted := 0
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := usage.Record(ctx, s, usage.Default(), usage.Call{
					WorkspaceID: f.ws, ConversationID: ptr(f.liveConv), ConversationType: model.TypeWidget,
					RequestID: "extraction:9:9", Purpose: usage.PurposeExtraction, Model: "gpt-4o-mini",
					Tokens: usage.Tokens{Prompt: 1234, Completion: 567}, AddToConversation: true,
				})
				if err != nil {
					t.Error(err)
					return
				}
				if r.Inserted {
					mu.Lock()
					inserted++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if inserted != 1 {
			t.Fatalf("%d inserts, want 1", inserted)
		}
		c, err := s.GetConversation(ctx, f.ws, f.liveConv)
		if err != nil || c.CostNanos != 525_300 || c.PromptTokens != 1234 || c.CompletionTokens != 567 {
			t.Fatalf("conversation totals: %+v, %v", c, err)
		}
	})
}

func TestRecordReplyStoresMessageAndRowTogether(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := setup(t, s)
		call := usage.Call{
			WorkspaceID: f.ws, ConversationID: ptr(f.testConv), ConversationType: model.TypeTest,
			RequestID: "reply:7:1", Purpose: usage.PurposeReply, Model: "gpt-4o-mini",
			Tokens: usage.Tokens{Prompt: 1234, Cached: 1024, Completion: 567},
		}
		m := &store.Message{Role: "assistant", Content: "Hello! How can I help?"}
		r, err := usage.RecordReply(ctx, s, usage.Default(), call, m)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Inserted || m.ID == 0 || m.CostNanos != 448_500 || m.CachedTokens != 1024 || r.Entry.MessageID == nil || *r.Entry.MessageID != m.ID {
			t.Fatalf("recorded %+v, message %+v", r, m)
		}
		again := &store.Message{Role: "assistant", Content: "Hello! How can I help?"}
		r, err = usage.RecordReply(ctx, s, usage.Default(), call, again)
		if err != nil || r.Inserted || again.ID != m.ID {
			t.Fatalf("retry: %+v %v, id %d want %d", r, err, again.ID, m.ID)
		}
		c, err := s.GetConversation(ctx, f.ws, f.testConv)
		if err != nil || c.MessageCount != 1 || c.CostNanos != 448_500 || c.CachedTokens != 1024 {
			t.Fatalf("conversation %+v, %v", c, err)
		}
		if _, err := usage.RecordReply(ctx, s, usage.Default(), call, &store.Message{WorkspaceID: f.ws, ConversationID: f.liveConv, Role: "assistant"}); err == nil {
			t.Fatal("a reply of another conversation must be refused")
		}
	})
}

func TestRecordRejectsIncompleteCalls(t *testing.T) {
	s := testkit.NewSQLiteDB(t).Open(t)
	f := setup(t, s)
	for _, c := range []usage.Call{
		{WorkspaceID: f.ws, Purpose: usage.PurposeReply, Model: "gpt-4o-mini"},
		{WorkspaceID: f.ws, RequestID: "x", Purpose: "chat", Model: "gpt-4o-mini"},
		{WorkspaceID: f.ws, RequestID: "x", Purpose: usage.PurposeReply},
		{RequestID: "x", Purpose: usage.PurposeReply, Model: "gpt-4o-mini"},
	} {
		if _, err := usage.Record(context.Background(), s, usage.Default(), c); err == nil {
			t.Fatalf("%+v: want an error", c)
		}
	}
}
