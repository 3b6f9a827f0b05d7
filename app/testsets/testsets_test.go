package testsets_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/review"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/testsets"
)

type fixture struct {
	s         *store.Store
	svc       *testsets.Service
	ws, other int64
	a, b      *store.Assistant // two assistants of ws
	foreign   *store.Assistant // of the other workspace
	user      *store.User
	ctx       context.Context
	n         int
}

func setup(t *testing.T, s *store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	w, owner, err := s.CreateWorkspaceWithUser(ctx, "Shop", "owner@shop.test", "hash")
	if err != nil {
		t.Fatal(err)
	}
	ow, _, err := s.CreateWorkspaceWithUser(ctx, "Other", "x@other.test", "hash")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: s, svc: &testsets.Service{Store: s}, ws: w.ID, other: ow.ID, user: owner}
	f.ctx = audit.WithActor(ctx, audit.UserActor(owner))
	mk := func(ws int64, name string) *store.Assistant {
		a := &store.Assistant{WorkspaceID: ws, Name: name, Model: "gpt-4o-mini"}
		if err := s.CreateAssistant(ctx, a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	f.a, f.b, f.foreign = mk(w.ID, "Support"), mk(w.ID, "Sales"), mk(ow.ID, "Theirs")
	return f
}

// conv makes a conversation of assistant a with messages given as "role: text" lines; it
// returns the conversation and its messages' ids in order.
func (f *fixture) conv(t *testing.T, a *store.Assistant, customer string, lines ...string) (*store.Conversation, []int64) {
	t.Helper()
	aid := a.ID
	f.n++
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second).Add(time.Duration(f.n) * time.Second)
	c := &store.Conversation{WorkspaceID: a.WorkspaceID, AssistantID: &aid, Type: model.TypeWidget, Customer: customer, StartedAt: at, LastMessageAt: at}
	if err := f.s.CreateConversation(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i, l := range lines {
		role, text, _ := strings.Cut(l, ": ")
		m := &store.Message{WorkspaceID: a.WorkspaceID, ConversationID: c.ID, Role: role, Content: text, CreatedAt: at.Add(time.Duration(i) * time.Millisecond)}
		if _, err := f.s.AddMessage(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	return c, ids
}

func wantField(t *testing.T, what string, err error, field string) {
	t.Helper()
	var fe *testsets.FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Fatalf("%s: got %v, want a field error on %q", what, err, field)
	}
}

func auditCount(t *testing.T, s *store.Store, ws int64, action audit.Action) int {
	t.Helper()
	n, err := s.DB.NewSelect().TableExpr("audit_log").Where("workspace_id = ? AND action = ?", ws, string(action)).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestName(t *testing.T) {
	for _, c := range []struct {
		in, clean, key, field string
	}{
		{"  Refund   questions ", "Refund questions", "refund questions", ""},
		{"", "", "", "name"},
		{"   ", "", "", "name"},
		{"a\x00b", "", "", "name"},
		{strings.Repeat("é", model.MaxTestSetNameLen), strings.Repeat("é", model.MaxTestSetNameLen), strings.Repeat("é", model.MaxTestSetNameLen), ""},
		{strings.Repeat("x", model.MaxTestSetNameLen+1), "", "", "name"},
		{"bad \xff utf8", "", "", "name"},
	} {
		clean, key, err := testsets.Name(c.in)
		if c.field != "" {
			wantField(t, fmt.Sprintf("%q", c.in), err, c.field)
			continue
		}
		if err != nil || clean != c.clean || key != c.key {
			t.Fatalf("Name(%q) = %q, %q, %v", c.in, clean, key, err)
		}
	}
}

func TestTurns(t *testing.T) {
	msg := func(id int64, role, text string) store.Message {
		return store.Message{ID: id, Role: role, Content: text, ContentType: "text"}
	}
	for _, c := range []struct {
		name string
		msgs []store.Message
		corr map[int64]store.Correction
		want []model.TestCaseTurn
	}{
		{"none", nil, nil, nil},
		{"only the assistant", []store.Message{msg(1, "assistant", "Hello")}, nil, nil},
		{"consecutive customer messages are one turn; the greeting answers nothing", []store.Message{
			msg(1, "assistant", "Hi, how can I help?"), msg(2, "user", "Hello"), msg(3, "user", "my order?"),
			msg(4, "assistant", "Which one?"), msg(5, "user", "#12"), msg(6, "assistant", "Shipped."),
		}, map[int64]store.Correction{1: {Text: "not a turn's answer"}}, []model.TestCaseTurn{{Customer: "Hello\n\nmy order?"}, {Customer: "#12"}}},
		{"a correction is that turn's expected answer, with the rest of the answer", []store.Message{
			msg(1, "user", "Refund?"), msg(2, "assistant", "No."), msg(3, "assistant", "Bye."), msg(4, "user", "Why?"), msg(5, "assistant", "Policy."),
		}, map[int64]store.Correction{2: {Text: "Yes, within 30 days."}}, []model.TestCaseTurn{{Customer: "Refund?", Expected: "Yes, within 30 days.\n\nBye."}, {Customer: "Why?"}}},
		{"a team member's answer ends a turn and is never corrected", []store.Message{
			msg(1, "user", "Human please"), msg(2, "human", "Here."), msg(3, "user", "Thanks"),
		}, map[int64]store.Correction{2: {Text: "ignored"}}, []model.TestCaseTurn{{Customer: "Human please"}, {Customer: "Thanks"}}},
		{"a message without text", []store.Message{{ID: 1, Role: "user", ContentType: "image"}}, nil, []model.TestCaseTurn{{Customer: "[image message]"}}},
		{"a fallback is not an answer's text, its correction is", []store.Message{
			msg(1, "user", "Hi"), {ID: 2, Role: "assistant", Content: "Sorry, trouble.", Error: "timeout"}, msg(3, "assistant", "Hello!"),
		}, map[int64]store.Correction{3: {Text: "Hello, I am Ana."}}, []model.TestCaseTurn{{Customer: "Hi", Expected: "Hello, I am Ana."}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := testsets.Turns(c.msgs, c.corr)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
		})
	}
	// At most model.MaxCaseTurns turns.
	var long []store.Message
	for i := range model.MaxCaseTurns + 5 {
		long = append(long, msg(int64(2*i+1), "user", fmt.Sprint("q", i)), msg(int64(2*i+2), "assistant", "a"))
	}
	got := testsets.Turns(long, nil)
	if len(got) != model.MaxCaseTurns || got[len(got)-1].Customer != fmt.Sprint("q", model.MaxCaseTurns-1) {
		t.Fatalf("capped: %d turns, last %+v", len(got), got[len(got)-1])
	}
}

// A set is created for an assistant of the workspace, named uniquely per assistant
// (case-insensitively), renamed and deleted, each with its audit entry.
func TestSetLifecycle(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s)
		ctx := f.ctx
		ts, err := f.svc.Create(ctx, f.ws, f.a.ID, "  Refunds ")
		if err != nil || ts.ID == 0 || ts.Name != "Refunds" || ts.NameKey != "refunds" || ts.CreatedBy == "" || ts.CreatedByID == nil || *ts.CreatedByID != f.user.ID {
			t.Fatalf("create: %+v %v", ts, err)
		}
		if _, err := f.svc.Create(ctx, f.ws, f.a.ID, "REFUNDS"); !errors.Is(err, testsets.ErrNameTaken) {
			t.Fatalf("same name, other case: %v", err)
		}
		if other, err := f.svc.Create(ctx, f.ws, f.b.ID, "Refunds"); err != nil || other.ID == ts.ID {
			t.Fatalf("the same name for another assistant: %+v %v", other, err)
		}
		_, err = f.svc.Create(ctx, f.ws, f.foreign.ID, "Mine")
		wantField(t, "another workspace's assistant", err, "assistant_id")
		_, err = f.svc.Create(ctx, f.ws, 0, "Mine")
		wantField(t, "no assistant", err, "assistant_id")
		_, err = f.svc.Create(ctx, f.ws, f.a.ID, "")
		wantField(t, "no name", err, "name")

		second, err := f.svc.Create(ctx, f.ws, f.a.ID, "Shipping")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Rename(ctx, f.ws, second.ID, "refunds"); !errors.Is(err, testsets.ErrNameTaken) {
			t.Fatalf("rename onto another's name: %v", err)
		}
		if r, err := f.svc.Rename(ctx, f.ws, second.ID, "Shipping delays"); err != nil || r.Name != "Shipping delays" {
			t.Fatalf("rename: %+v %v", r, err)
		}
		if _, err := f.svc.Rename(ctx, f.other, second.ID, "Mine"); !errors.Is(err, testsets.ErrNotFound) {
			t.Fatalf("rename from another workspace: %v", err)
		}
		if err := f.svc.Delete(ctx, f.other, second.ID); !errors.Is(err, testsets.ErrNotFound) {
			t.Fatalf("delete from another workspace: %v", err)
		}
		sets, err := f.svc.Sets(ctx, f.ws, f.a.ID)
		if err != nil || len(sets) != 2 || sets[0].Name != "Refunds" || sets[1].Name != "Shipping delays" || sets[0].AssistantName != "Support" {
			t.Fatalf("sets of a: %+v %v", sets, err)
		}
		if all, _ := f.svc.Sets(ctx, f.ws, 0); len(all) != 3 {
			t.Fatalf("all sets: %+v", all)
		}
		if theirs, _ := f.svc.Sets(ctx, f.other, 0); len(theirs) != 0 {
			t.Fatalf("another workspace sees: %+v", theirs)
		}
		if err := f.svc.Delete(ctx, f.ws, second.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.Set(ctx, f.ws, second.ID); !errors.Is(err, testsets.ErrNotFound) {
			t.Fatalf("deleted set: %v", err)
		}
		for action, want := range map[audit.Action]int{audit.TestSetCreate: 3, audit.TestSetRename: 1, audit.TestSetDelete: 1} {
			if n := auditCount(t, s, f.ws, action); n != want {
				t.Fatalf("%s entries: %d, want %d", action, n, want)
			}
		}
	})
}

// A case copies the conversation's customer turns; a reviewer's correction of the answer
// is that turn's expected answer. Adding the conversation again refreshes the case (a
// correction written since is taken), never a second case. The case outlives the
// conversation.
func TestCaseFromConversationWithCorrection(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s)
		ctx := f.ctx
		ts, err := f.svc.Create(ctx, f.ws, f.a.ID, "Refunds")
		if err != nil {
			t.Fatal(err)
		}
		conv, ids := f.conv(t, f.a, "v1", "assistant: Hi!", "user: Can I get a refund?", "user: It broke.",
			"assistant: No refunds.", "user: Really?", "assistant: Really.")
		rev := &review.Service{Store: s}
		if _, err := rev.Correct(ctx, f.ws, conv.ID, ids[3], "Yes: broken items are refunded within 30 days."); err != nil {
			t.Fatal(err)
		}
		c, added, err := f.svc.Add(ctx, f.ws, ts.ID, conv.ID)
		if err != nil || !added {
			t.Fatalf("add: %+v %v %v", c, added, err)
		}
		want := store.TestCaseTurns{
			{Customer: "Can I get a refund?\n\nIt broke.", Expected: "Yes: broken items are refunded within 30 days."},
			{Customer: "Really?"},
		}
		if !reflect.DeepEqual(c.Turns, want) || c.ConversationID == nil || *c.ConversationID != conv.ID || c.Title != "Can I get a refund? It broke." {
			t.Fatalf("case: %+v", c)
		}
		// Corrected again, and the second turn too; adding again refreshes.
		if _, err := rev.Correct(ctx, f.ws, conv.ID, ids[5], "Yes, really."); err != nil {
			t.Fatal(err)
		}
		again, added, err := f.svc.Add(ctx, f.ws, ts.ID, conv.ID)
		if err != nil || added || again.ID != c.ID || again.Turns[1].Expected != "Yes, really." {
			t.Fatalf("add again: %+v %v %v", again, added, err)
		}
		cases, err := s.TestCases(ctx, f.ws, ts.ID)
		if err != nil || len(cases) != 1 {
			t.Fatalf("cases: %+v %v", cases, err)
		}
		if n := auditCount(t, s, f.ws, audit.TestCaseAdd); n != 1 {
			t.Fatalf("case.add entries: %d (a refresh adds none)", n)
		}
		// The case outlives its conversation.
		if err := s.DeleteConversation(ctx, f.ws, conv.ID); err != nil {
			t.Fatal(err)
		}
		_, cases, err = f.svc.Set(ctx, f.ws, ts.ID)
		if err != nil || len(cases) != 1 || cases[0].ConversationID != nil || !reflect.DeepEqual(cases[0].Turns, again.Turns) {
			t.Fatalf("after the conversation is deleted: %+v %v", cases, err)
		}
		// Removed (from its own set only).
		if err := f.svc.RemoveCase(ctx, f.other, ts.ID, c.ID); !errors.Is(err, testsets.ErrNotFound) {
			t.Fatalf("remove from another workspace: %v", err)
		}
		if err := f.svc.RemoveCase(ctx, f.ws, ts.ID, c.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RemoveCase(ctx, f.ws, ts.ID, c.ID); !errors.Is(err, testsets.ErrNotFound) {
			t.Fatalf("removed twice: %v", err)
		}
		if n := auditCount(t, s, f.ws, audit.TestCaseRemove); n != 1 {
			t.Fatalf("case.remove entries: %d", n)
		}
	})
}

// Refusals: another workspace's set or conversation, another assistant's conversation, a
// conversation without a customer message; nothing is written.
func TestAddRefusals(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s)
		ctx := f.ctx
		ts, _ := f.svc.Create(ctx, f.ws, f.a.ID, "Set")
		theirs, _ := f.svc.Create(audit.WithActor(context.Background(), audit.System), f.other, f.foreign.ID, "Theirs")
		mine, _ := f.conv(t, f.a, "v1", "user: hi", "assistant: hello")
		foreign, _ := f.conv(t, f.foreign, "v2", "user: hi", "assistant: hello")
		sales, _ := f.conv(t, f.b, "v3", "user: hi")
		silent, _ := f.conv(t, f.a, "v4", "assistant: Anyone there?")

		if _, _, err := f.svc.Add(ctx, f.ws, theirs.ID, mine.ID); !errors.Is(err, testsets.ErrNotFound) {
			t.Fatalf("another workspace's set: %v", err)
		}
		_, _, err := f.svc.Add(ctx, f.ws, ts.ID, foreign.ID)
		wantField(t, "another workspace's conversation", err, "conversation_id")
		_, _, err = f.svc.Add(ctx, f.ws, ts.ID, sales.ID)
		wantField(t, "another assistant's conversation", err, "conversation_id")
		_, _, err = f.svc.Add(ctx, f.ws, ts.ID, silent.ID)
		wantField(t, "no customer turn", err, "conversation_id")
		for _, set := range []int64{ts.ID, theirs.ID} {
			if n, _ := s.DB.NewSelect().TableExpr("test_cases").Where("test_set_id = ?", set).Count(ctx); n != 0 {
				t.Fatalf("set %d has %d cases", set, n)
			}
		}
	})
}

// Two concurrent adds of the same conversation make one case: one is added, the other
// finds it (ON CONFLICT under the set's lock), neither fails.
func TestConcurrentAddIsIdempotent(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s)
		ctx := f.ctx
		ts, _ := f.svc.Create(ctx, f.ws, f.a.ID, "Set")
		conv, _ := f.conv(t, f.a, "v1", "user: hi", "assistant: hello")
		const n = 4
		var wg sync.WaitGroup
		addedN := make([]bool, n)
		errs := make([]error, n)
		ids := make([]int64, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, added, err := f.svc.Add(ctx, f.ws, ts.ID, conv.ID)
				addedN[i], errs[i] = added, err
				if c != nil {
					ids[i] = c.ID
				}
			}()
		}
		wg.Wait()
		adds := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("add %d: %v", i, errs[i])
			}
			if addedN[i] {
				adds++
			}
			if ids[i] != ids[0] {
				t.Fatalf("different cases: %v", ids)
			}
		}
		cases, _ := s.TestCases(ctx, f.ws, ts.ID)
		if adds != 1 || len(cases) != 1 {
			t.Fatalf("added %d times, %d cases", adds, len(cases))
		}
		if c := auditCount(t, s, f.ws, audit.TestCaseAdd); c != 1 {
			t.Fatalf("case.add entries: %d", c)
		}
	})
}

// "Add every conversation matching a filter" adds exactly the set's assistant's
// conversations that match, skips those without a customer turn, refreshes those it has,
// and reads each batch's messages in one query.
func TestAddMatching(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s)
		ctx := f.ctx
		ts, _ := f.svc.Create(ctx, f.ws, f.a.ID, "Set")
		var want []int64
		for i := range testsets.BatchSize + 3 { // more than one batch
			c, _ := f.conv(t, f.a, fmt.Sprintf("match-%02d", i), "user: question", "assistant: answer")
			want = append(want, c.ID)
		}
		f.conv(t, f.a, "other-1", "user: not matching")     // another customer
		f.conv(t, f.b, "match-sales", "user: question")     // another assistant
		f.conv(t, f.a, "match-silent", "assistant: hello?") // no customer turn
		f.conv(t, f.foreign, "match-theirs", "user: hi")    // another workspace
		// One of them is in the set already.
		if _, _, err := f.svc.Add(ctx, f.ws, ts.ID, want[0]); err != nil {
			t.Fatal(err)
		}
		_, filter, err := conversation.ParseQuery(url.Values{"customer": {"match"}}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		r, err := f.svc.AddMatching(ctx, f.ws, ts.ID, filter, "customer=match")
		if err != nil {
			t.Fatal(err)
		}
		if r != (testsets.Result{Matched: len(want) + 1, Added: len(want) - 1, Refreshed: 1, Skipped: 1}) {
			t.Fatalf("result: %+v (want %d conversations)", r, len(want))
		}
		cases, _ := s.TestCases(ctx, f.ws, ts.ID)
		var got []int64
		for _, c := range cases {
			got = append(got, *c.ConversationID)
		}
		gotSet := map[int64]bool{}
		for _, id := range got {
			gotSet[id] = true
		}
		if len(got) != len(want) || len(gotSet) != len(want) {
			t.Fatalf("cases of %v, want %v", got, want)
		}
		for _, id := range want {
			if !gotSet[id] {
				t.Fatalf("conversation %d missing from %v", id, got)
			}
		}
		if n := auditCount(t, s, f.ws, audit.TestCasesAdd); n != 2 {
			t.Fatalf("cases.add entries: %d, want one per batch", n)
		}
		// The filter naming another assistant adds nothing.
		_, other, _ := conversation.ParseQuery(url.Values{"assistant": {fmt.Sprint(f.b.ID)}}, time.Now())
		if r, err := f.svc.AddMatching(ctx, f.ws, ts.ID, other, ""); err != nil || r != (testsets.Result{}) {
			t.Fatalf("another assistant's filter: %+v %v", r, err)
		}
		// A selection: ids of another workspace or assistant are not matched.
		sel, _ := f.conv(t, f.a, "zz-selected", "user: pick me")
		r, err = f.svc.AddConversations(ctx, f.ws, ts.ID, []int64{sel.ID, want[1]})
		if err != nil || r != (testsets.Result{Matched: 2, Added: 1, Refreshed: 1}) {
			t.Fatalf("selection: %+v %v", r, err)
		}
		if _, err := f.svc.AddMatching(ctx, f.other, ts.ID, filter, ""); !errors.Is(err, testsets.ErrNotFound) {
			t.Fatalf("another workspace's set: %v", err)
		}
	})
}

// A set holds at most model.MaxTestCases cases: the addition that would pass the limit
// writes nothing.
func TestSetFull(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s)
		ctx := f.ctx
		ts, _ := f.svc.Create(ctx, f.ws, f.a.ID, "Set")
		cases := make([]store.TestCase, model.MaxTestCases)
		for i := range cases {
			var lines []string
			if i == 0 {
				lines = []string{"user: q"}
			}
			c, _ := f.conv(t, f.a, "bulk", lines...)
			id := c.ID
			cases[i] = store.TestCase{ConversationID: &id, Title: "q", Turns: store.TestCaseTurns{{Customer: "q"}}}
		}
		if added, _, err := s.AddTestCases(ctx, f.ws, ts.ID, cases, model.MaxTestCases, nil); err != nil || added != model.MaxTestCases {
			t.Fatalf("fill: %d %v", added, err)
		}
		one, _ := f.conv(t, f.a, "one-more", "user: q")
		if _, _, err := f.svc.Add(ctx, f.ws, ts.ID, one.ID); !errors.Is(err, testsets.ErrSetFull) {
			t.Fatalf("one more: %v", err)
		}
		// Refreshing a case it has is no addition.
		if _, added, err := f.svc.Add(ctx, f.ws, ts.ID, *cases[0].ConversationID); err != nil || added {
			t.Fatalf("refresh in a full set: %v %v", added, err)
		}
		if n, _ := s.DB.NewSelect().TableExpr("test_cases").Where("test_set_id = ?", ts.ID).Count(ctx); n != model.MaxTestCases {
			t.Fatalf("cases: %d", n)
		}
	})
}

// The list carries each set's case count and its latest run (the runs are app/testruns';
// written here as rows), and reads no other workspace's.
func TestSetsListLatestRun(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s)
		ctx := f.ctx
		one, _ := f.svc.Create(ctx, f.ws, f.a.ID, "One")
		two, _ := f.svc.Create(ctx, f.ws, f.a.ID, "Two")
		conv, _ := f.conv(t, f.a, "v1", "user: hi")
		if _, _, err := f.svc.Add(ctx, f.ws, one.ID, conv.ID); err != nil {
			t.Fatal(err)
		}
		now := store.Now()
		for _, r := range []*store.TestSetRun{
			{WorkspaceID: f.ws, TestSetID: one.ID, AssistantID: f.a.ID, Version: 1, Status: model.JobDone, CasesTotal: 1, CasesDone: 1, CasesPassed: 1, Totals: "{}", CreatedAt: now},
			{WorkspaceID: f.ws, TestSetID: one.ID, AssistantID: f.a.ID, Version: 2, Status: model.JobRunning, CasesTotal: 1, Totals: "{}", CreatedAt: now},
		} {
			if _, err := s.DB.NewInsert().Model(r).ExcludeColumn("id").Exec(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		sets, err := f.svc.Sets(ctx, f.ws, 0)
		if err != nil || len(sets) != 2 {
			t.Fatalf("sets: %+v %v", sets, err)
		}
		if sets[0].ID != one.ID || sets[0].Cases != 1 || sets[0].Latest == nil || sets[0].Latest.Version != 2 || sets[0].Latest.Status != model.JobRunning {
			t.Fatalf("one: %+v latest %+v", sets[0], sets[0].Latest)
		}
		if sets[1].ID != two.ID || sets[1].Cases != 0 || sets[1].Latest != nil {
			t.Fatalf("two: %+v", sets[1])
		}
	})
}
