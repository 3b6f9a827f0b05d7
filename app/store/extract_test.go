package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

func exMessages(t *testing.T, s *store.Store, ws, conv int64, texts ...string) []int64 {
	t.Helper()
	var ids []int64
	for _, txt := range texts {
		m := &store.Message{WorkspaceID: ws, ConversationID: conv, Role: "user", Content: txt}
		if _, err := s.AddMessage(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	return ids
}

func exVars(t *testing.T, s *store.Store, ws, conv int64) map[string]store.ConversationVariable {
	t.Helper()
	vs, err := s.Variables(context.Background(), ws, conv)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.ConversationVariable{}
	for _, v := range vs {
		out[v.Name] = v
	}
	return out
}

func TestApplyExtractionProvenance(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := tlSetup(t, s)
		ws, conv := f.ws, f.widget
		if err := s.SetVariable(ctx, &store.ConversationVariable{WorkspaceID: ws, ConversationID: conv, Name: "email", Value: "form@example.com", Source: store.VariableSourcePrechat}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetVariable(ctx, &store.ConversationVariable{WorkspaceID: ws, ConversationID: conv, Name: "crm_id", Value: "42", Source: store.VariableSourceAPI}); err != nil {
			t.Fatal(err)
		}
		m := exMessages(t, s, ws, conv, "I'm Jane, jane@example.com", "plan: basic", "sorry, my name is Janet")
		apply := func(vals ...store.ExtractedValue) store.ExtractionOutcome {
			t.Helper()
			out, err := s.ApplyExtraction(ctx, store.ExtractionUpdate{WorkspaceID: ws, ConversationID: conv, Values: vals, LastMessageID: m[2]})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		out := apply(store.ExtractedValue{Name: "email", Value: "jane@example.com", MessageID: m[0]},
			store.ExtractedValue{Name: "crm_id", Value: "99", MessageID: m[0]},
			store.ExtractedValue{Name: "name", Value: "Jane", MessageID: m[0]},
			store.ExtractedValue{Name: "plan", Value: "Basic", MessageID: m[1]})
		if strings.Join(out.Changed, ",") != "name,plan" {
			t.Fatalf("changed %v: the pre-chat and API values are never replaced by a guess", out.Changed)
		}
		v := exVars(t, s, ws, conv)
		if v["email"].Value != "form@example.com" || v["email"].Source != "prechat" || v["crm_id"].Value != "42" || v["crm_id"].Source != "api" {
			t.Fatalf("protected values changed: %+v %+v", v["email"], v["crm_id"])
		}
		if v["name"].Value != "Jane" || v["name"].Source != "extracted" || v["name"].MessageID == nil || *v["name"].MessageID != m[0] {
			t.Fatalf("name: %+v", v["name"])
		}
		firstUpdate := v["plan"].UpdatedAt
		// The customer corrects a value: the later message wins.
		time.Sleep(2 * time.Millisecond)
		out = apply(store.ExtractedValue{Name: "name", Value: "Janet", MessageID: m[2]}, store.ExtractedValue{Name: "plan", Value: "Basic", MessageID: m[2]})
		if strings.Join(out.Changed, ",") != "name" {
			t.Fatalf("changed %v: an unchanged value is not rewritten", out.Changed)
		}
		v = exVars(t, s, ws, conv)
		if v["name"].Value != "Janet" || *v["name"].MessageID != m[2] || !v["plan"].UpdatedAt.Equal(firstUpdate) || *v["plan"].MessageID != m[1] {
			t.Fatalf("after the correction: %+v %+v", v["name"], v["plan"])
		}
		// A stale run reading only the first message cannot undo the correction.
		if out = apply(store.ExtractedValue{Name: "name", Value: "Jane", MessageID: m[0]}); len(out.Changed) != 0 {
			t.Fatalf("a value from an older message replaced a newer one: %v", out.Changed)
		}
		c, _ := s.GetConversation(ctx, ws, conv)
		var obj map[string]string
		_ = json.Unmarshal([]byte(c.Variables), &obj)
		if obj["name"] != "Janet" || obj["email"] != "form@example.com" || obj["plan"] != "Basic" || obj["crm_id"] != "42" {
			t.Fatalf("the list's variables object: %v", obj)
		}
		st, err := s.ExtractionStateOf(ctx, ws, conv)
		if err != nil || st.LastMessageID != m[2] || st.Runs != 3 || st.Error != "" {
			t.Fatalf("state: %+v %v", st, err)
		}
		// Another workspace cannot write here.
		if _, err := s.ApplyExtraction(ctx, store.ExtractionUpdate{WorkspaceID: ws + 1000, ConversationID: conv}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("foreign workspace: %v", err)
		}
	})
}

func TestApplyExtractionUsageOnceAndErrors(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := tlSetup(t, s)
		ws, conv := f.ws, f.widget
		m := exMessages(t, s, ws, conv, "I'm Jane")
		entry := func() *store.UsageEntry {
			e := tlEntry(f, conv, f.a1, model.TypeWidget, "extract:1:1", time.Now(), 300, 30, 4242)
			e.Purpose = store.PurposeExtraction
			return e
		}
		up := store.ExtractionUpdate{WorkspaceID: ws, ConversationID: conv, LastMessageID: m[0], Usage: entry(),
			Values: []store.ExtractedValue{{Name: "name", Value: "Jane", MessageID: m[0]}}}
		out, err := s.ApplyExtraction(ctx, up)
		if err != nil || out.Replayed || len(out.Changed) != 1 {
			t.Fatalf("first: %+v %v", out, err)
		}
		up.Usage = entry()
		up.Values = []store.ExtractedValue{{Name: "name", Value: "Someone else", MessageID: m[0] + 1}}
		out, err = s.ApplyExtraction(ctx, up)
		if err != nil || !out.Replayed || len(out.Changed) != 0 {
			t.Fatalf("replay: %+v %v", out, err)
		}
		c, _ := s.GetConversation(ctx, ws, conv)
		if c.CostNanos != 4242 || c.PromptTokens != 300 || c.CompletionTokens != 30 {
			t.Fatalf("the call is added to the totals once: %d %d %d", c.CostNanos, c.PromptTokens, c.CompletionTokens)
		}
		if v := exVars(t, s, ws, conv); v["name"].Value != "Jane" {
			t.Fatalf("a replay writes nothing: %+v", v["name"])
		}
		// An error is recorded on the run and shown on the conversation ...
		if _, err := s.ApplyExtraction(ctx, store.ExtractionUpdate{WorkspaceID: ws, ConversationID: conv, LastMessageID: m[0], Error: "the model's reply breaks the schema"}); err != nil {
			t.Fatal(err)
		}
		st, _ := s.ExtractionStateOf(ctx, ws, conv)
		c, _ = s.GetConversation(ctx, ws, conv)
		if st.Error == "" || st.ErrorAt == nil || !strings.HasPrefix(c.LastError, store.ExtractionErrorPrefix) {
			t.Fatalf("error: %+v %q", st, c.LastError)
		}
		// ... and cleared by the next run that works.
		if _, err := s.ApplyExtraction(ctx, store.ExtractionUpdate{WorkspaceID: ws, ConversationID: conv, LastMessageID: m[0]}); err != nil {
			t.Fatal(err)
		}
		c, _ = s.GetConversation(ctx, ws, conv)
		st, _ = s.ExtractionStateOf(ctx, ws, conv)
		if c.LastError != "" || st.Error != "" {
			t.Fatalf("cleared: %q %q", c.LastError, st.Error)
		}
		// Another error on the conversation (a failed reply) is not hidden.
		if err := s.SetConversationError(ctx, ws, conv, "The assistant could not answer"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApplyExtraction(ctx, store.ExtractionUpdate{WorkspaceID: ws, ConversationID: conv, Error: "boom"}); err != nil {
			t.Fatal(err)
		}
		c, _ = s.GetConversation(ctx, ws, conv)
		if c.LastError != "The assistant could not answer" {
			t.Fatalf("last error: %q", c.LastError)
		}
	})
}

func TestEndedWithoutFinalExtraction(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := tlSetup(t, s)
		if _, err := s.ApplyExtraction(ctx, store.ExtractionUpdate{WorkspaceID: f.ws, ConversationID: f.widget}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
		for _, id := range []int64{f.widget, f.test} {
			if _, err := s.EndConversation(ctx, f.ws, id, model.EndAgent, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		refs, err := s.EndedWithoutFinalExtraction(ctx, time.Now().Add(-time.Hour), 10)
		if err != nil || len(refs) != 2 {
			t.Fatalf("ended: %v %v", refs, err)
		}
		if _, err := s.ApplyExtraction(ctx, store.ExtractionUpdate{WorkspaceID: f.ws, ConversationID: f.widget}); err != nil {
			t.Fatal(err)
		}
		refs, _ = s.EndedWithoutFinalExtraction(ctx, time.Now().Add(-time.Hour), 10)
		if len(refs) != 1 || refs[0].ID != f.test || refs[0].WorkspaceID != f.ws {
			t.Fatalf("after the final extraction: %v", refs)
		}
	})
}

func TestMissingRequiredFilter(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := tlSetup(t, s) // a1 requires email and name; a2 requires nothing
		set := func(conv int64, name, value string) {
			t.Helper()
			if err := s.SetVariable(ctx, &store.ConversationVariable{WorkspaceID: f.ws, ConversationID: conv, Name: name, Value: value, Source: "prechat"}); err != nil {
				t.Fatal(err)
			}
		}
		complete := &store.Conversation{WorkspaceID: f.ws, AssistantID: &f.a1, Type: model.TypeWidget}
		orphan := &store.Conversation{WorkspaceID: f.ws, Type: model.TypeWidget}
		for _, c := range []*store.Conversation{complete, orphan} {
			if err := s.CreateConversation(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		set(complete.ID, "email", "a@example.com")
		set(complete.ID, "name", "Ann")
		set(f.widget, "email", "b@example.com") // name missing
		set(f.test, "name", "")                 // blank counts as missing
		rows, _, err := s.ListConversations(ctx, f.ws, store.Filter{MissingRequired: true}, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]bool{}
		for _, r := range rows {
			got[r.ID] = true
		}
		if len(got) != 2 || !got[f.widget] || !got[f.test] {
			t.Fatalf("missing a required variable: %v (widget %d, test %d)", got, f.widget, f.test)
		}
		n, err := s.CountMatching(ctx, f.ws, store.Filter{MissingRequired: true, Type: model.TypeTest})
		if err != nil || n != 1 {
			t.Fatalf("count: %d %v", n, err)
		}
	})
}

func TestRefreshActivityRollups(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := tlSetup(t, s)
		day := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
		seq := 0
		mk := func(a int64, typ string, started time.Time) *store.Conversation {
			t.Helper()
			aid := a
			seq++
			c := &store.Conversation{WorkspaceID: f.ws, AssistantID: &aid, Type: typ, StartedAt: started, Customer: fmt.Sprintf("+49151000000%d", seq)}
			if err := s.CreateConversation(ctx, c); err != nil {
				t.Fatal(err)
			}
			return c
		}
		msg := func(c *store.Conversation, role string, at time.Time) {
			t.Helper()
			if _, err := s.AddMessage(ctx, &store.Message{WorkspaceID: f.ws, ConversationID: c.ID, Role: role, Content: "x", CreatedAt: at}); err != nil {
				t.Fatal(err)
			}
		}
		c1 := mk(f.a1, model.TypeWidget, day)
		c2 := mk(f.a1, model.TypeWidget, day.Add(time.Hour))
		c3 := mk(f.a2, model.TypeWhatsApp, day.Add(24*time.Hour))
		c4 := mk(f.a2, model.TypeWhatsApp, day.Add(24*time.Hour))
		msg(c1, "user", day.Add(time.Minute))
		msg(c1, "assistant", day.Add(2*time.Minute))
		msg(c3, "user", day.Add(24*time.Hour+time.Minute))
		msg(c4, "user", day.Add(24*time.Hour+time.Minute))
		msg(c4, "assistant", day.Add(24*time.Hour+2*time.Minute))
		for _, nv := range [][2]string{{"email", "a@example.com"}, {"name", "Ann"}} {
			if err := s.SetVariable(ctx, &store.ConversationVariable{WorkspaceID: f.ws, ConversationID: c1.ID, Name: nv[0], Value: nv[1], Source: "extracted"}); err != nil {
				t.Fatal(err)
			}
		}
		// Both WhatsApp windows closed the day after; c3's customer got no reply.
		closedAt := day.Add(48 * time.Hour)
		for _, c := range []*store.Conversation{c3, c4} {
			if _, err := s.DB.ExecContext(ctx, "UPDATE conversations SET window_expires_at = ?, window_closed_at = ? WHERE id = ?", closedAt, closedAt, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.RefreshActivityRollups(ctx, f.ws, "2026-11-19", "2026-11-24")
		if err != nil || n == 0 {
			t.Fatalf("refresh: %d %v", n, err)
		}
		rows, err := s.Rollups(ctx, f.ws, "2026-11-19", "2026-11-24")
		if err != nil {
			t.Fatal(err)
		}
		got := map[store.RollupKey]store.UsageDaily{}
		for _, r := range rows {
			got[r.Key()] = r
		}
		w20 := got[store.RollupKey{WorkspaceID: f.ws, Day: "2026-11-20", AssistantID: f.a1, Type: model.TypeWidget}]
		if w20.Conversations != 2 || w20.Messages != 2 || w20.RequiredConversations != 2 || w20.CompleteConversations != 1 {
			t.Fatalf("widget on the 20th: %+v", w20)
		}
		wa21 := got[store.RollupKey{WorkspaceID: f.ws, Day: "2026-11-21", AssistantID: f.a2, Type: model.TypeWhatsApp}]
		if wa21.Conversations != 2 || wa21.Messages != 3 || wa21.RequiredConversations != 0 {
			t.Fatalf("whatsapp on the 21st: %+v", wa21)
		}
		wa22 := got[store.RollupKey{WorkspaceID: f.ws, Day: "2026-11-22", AssistantID: f.a2, Type: model.TypeWhatsApp}]
		if wa22.WindowsClosedUnanswered != 1 {
			t.Fatalf("windows closed without a reply on the 22nd: %+v", wa22)
		}
		// Refreshing again changes nothing; a change in the data is picked up.
		if n, err := s.RefreshActivityRollups(ctx, f.ws, "2026-11-19", "2026-11-24"); err != nil || n != 0 {
			t.Fatalf("second refresh: %d %v", n, err)
		}
		for _, nv := range [][2]string{{"email", "b@example.com"}, {"name", "Bo"}} {
			if err := s.SetVariable(ctx, &store.ConversationVariable{WorkspaceID: f.ws, ConversationID: c2.ID, Name: nv[0], Value: nv[1], Source: "extracted"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteConversation(ctx, f.ws, c3.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RefreshActivityRollups(ctx, f.ws, "2026-11-19", "2026-11-24"); err != nil {
			t.Fatal(err)
		}
		rows, _ = s.Rollups(ctx, f.ws, "2026-11-19", "2026-11-24")
		for _, r := range rows {
			got[r.Key()] = r
		}
		if r := got[w20.Key()]; r.CompleteConversations != 2 {
			t.Fatalf("complete after the variables arrived: %+v", r)
		}
		if r := got[wa21.Key()]; r.Conversations != 1 || r.Messages != 2 {
			t.Fatalf("after deleting a conversation: %+v", r)
		}
		if r := got[wa22.Key()]; r.WindowsClosedUnanswered != 0 {
			t.Fatalf("closed windows after deleting: %+v", r)
		}
	})
}
