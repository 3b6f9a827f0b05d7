package conversation_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// endsFixture is a workspace and a conversation service counting OnEnded calls by conversation.
type endsFixture struct {
	s   *store.Store
	svc *conversation.Service
	ws  int64
	mu  sync.Mutex
	got map[int64]int // OnEnded calls by conversation
	all atomic.Int64
}

func newEnds(t *testing.T, s *store.Store) *endsFixture {
	t.Helper()
	w, _, err := s.CreateWorkspaceWithUser(context.Background(), "Shop", "owner@shop.test", "hash")
	if err != nil {
		t.Fatal(err)
	}
	f := &endsFixture{s: s, ws: w.ID, got: map[int64]int{}}
	f.svc = &conversation.Service{Store: s, OnEnded: func(_ context.Context, end *store.ConversationEnd) {
		f.mu.Lock()
		f.got[end.ConversationID]++
		f.mu.Unlock()
		f.all.Add(1)
	}}
	return f
}

func (f *endsFixture) conv(t *testing.T, typ string, last time.Time) *store.Conversation {
	t.Helper()
	c := &store.Conversation{WorkspaceID: f.ws, Type: typ, Customer: "c", StartedAt: last, LastMessageAt: last}
	if err := f.s.CreateConversation(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *endsFixture) get(t *testing.T, id int64) *store.Conversation {
	t.Helper()
	c, err := f.s.GetConversation(context.Background(), f.ws, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *endsFixture) ends(t *testing.T, id int64) []store.ConversationEnd {
	t.Helper()
	var out []store.ConversationEnd
	if err := f.s.DB.NewSelect().Model(&out).Where("conversation_id = ?", id).Order("seq").Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	return out
}

var sweepIdle = model.IdleTimes{Widget: 30 * time.Minute, WhatsApp: 2 * time.Hour, Test: 10 * time.Minute}

// The end sweep ends, in batches, the open conversations of each type idle past that type's
// idle time, at the moment each idled out (reason idle), once: a second sweep ends nothing,
// and the recent and already ended ones are left alone.
func TestEndSweepEndsIdleConversationsOnce(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newEnds(t, s)
		now := time.Now().UTC().Truncate(time.Second)
		type tc struct {
			typ  string
			ago  time.Duration
			ends bool
		}
		cases := []tc{
			{model.TypeWidget, 31 * time.Minute, true},
			{model.TypeWidget, 45 * time.Minute, true},
			{model.TypeWidget, 3 * time.Hour, true},
			{model.TypeWidget, 29 * time.Minute, false},
			{model.TypeWhatsApp, 3 * time.Hour, true},
			{model.TypeWhatsApp, time.Hour, false}, // idle for the widget, not for WhatsApp
			{model.TypeTest, 11 * time.Minute, true},
			{model.TypeTest, 9 * time.Minute, false},
		}
		convs := make([]*store.Conversation, len(cases))
		for i, c := range cases {
			convs[i] = f.conv(t, c.typ, now.Add(-c.ago))
		}
		closed := f.conv(t, model.TypeWidget, now.Add(-5*time.Hour))
		closedAt := now.Add(-4 * time.Hour)
		if _, err := f.svc.End(ctx, f.ws, closed.ID, model.EndAgent, closedAt); err != nil {
			t.Fatal(err)
		}
		f.all.Store(0)

		// Batches of 2: three idle widget conversations take two rounds.
		n, err := f.svc.EndIdleConversations(ctx, sweepIdle, now, 2, 0)
		if err != nil || n != 5 {
			t.Fatalf("sweep ended %d (%v), want 5", n, err)
		}
		for i, c := range cases {
			got := f.get(t, convs[i].ID)
			if !c.ends {
				if got.EndedAt != nil || len(f.ends(t, got.ID)) != 0 || f.got[got.ID] != 0 {
					t.Fatalf("case %d (%s, %s ago) ended: %+v", i, c.typ, c.ago, got)
				}
				continue
			}
			want := convs[i].LastMessageAt.Add(sweepIdle.For(c.typ))
			if got.EndedAt == nil || !got.EndedAt.Equal(want) || got.EndReason != model.EndIdle || got.EndCount != 1 {
				t.Fatalf("case %d (%s, %s ago): ended %v %q %d, want at %v", i, c.typ, c.ago, got.EndedAt, got.EndReason, got.EndCount, want)
			}
			if es := f.ends(t, got.ID); len(es) != 1 || es[0].Seq != 1 || es[0].Reason != model.EndIdle || !es[0].EndedAt.Equal(want) {
				t.Fatalf("case %d end rows: %+v", i, es)
			}
			if f.got[got.ID] != 1 {
				t.Fatalf("case %d: OnEnded called %d times", i, f.got[got.ID])
			}
		}
		if got := f.get(t, closed.ID); got.EndReason != model.EndAgent || !got.EndedAt.Equal(closedAt) || len(f.ends(t, closed.ID)) != 1 {
			t.Fatalf("the ended conversation changed: %+v", got)
		}
		if n, err := f.svc.EndIdleConversations(ctx, sweepIdle, now, 2, 0); err != nil || n != 0 {
			t.Fatalf("second sweep ended %d (%v)", n, err)
		}
		if f.all.Load() != 5 {
			t.Fatalf("OnEnded called %d times, want 5", f.all.Load())
		}
	})
}

// Two sweeps running at once end each idle conversation once: one end row, one OnEnded.
func TestConcurrentEndSweepsEndOnce(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newEnds(t, s)
		now := time.Now().UTC()
		const n = 30
		ids := make([]int64, n)
		for i := range ids {
			ids[i] = f.conv(t, model.TypeWidget, now.Add(-time.Hour-time.Duration(i)*time.Second)).ID
		}
		var wg sync.WaitGroup
		var total atomic.Int64
		errs := make(chan error, 2)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := f.svc.EndIdleConversations(ctx, sweepIdle, now, 7, 0)
				total.Add(int64(k))
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
		if total.Load() != n || f.all.Load() != n {
			t.Fatalf("sweeps ended %d, OnEnded %d, want %d", total.Load(), f.all.Load(), n)
		}
		for _, id := range ids {
			if es := f.ends(t, id); len(es) != 1 || f.got[id] != 1 {
				t.Fatalf("conversation %d: %d end rows, OnEnded %d", id, len(es), f.got[id])
			}
		}
	})
}

// A WhatsApp conversation ends when its window closes (reason window, at the deadline), by the
// expiry task or by the window sweep; a customer message reopens it and it ends again (seq 2)
// when it idles out. A window closing on an ended conversation adds no end.
func TestWindowCloseEndsAndReopenEndsAgain(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newEnds(t, s)
		now := time.Now().UTC().Truncate(time.Second)
		open := func(c *store.Conversation, msgTime, deadline time.Time) {
			t.Helper()
			if _, err := f.svc.OpenWindow(ctx, f.ws, c.ID, msgTime, deadline, msgTime); err != nil {
				t.Fatal(err)
			}
		}
		// The expiry task.
		a := f.conv(t, model.TypeWhatsApp, now.Add(-5*time.Hour))
		deadline := now.Add(-4 * time.Hour)
		open(a, a.LastMessageAt, deadline)
		if closed, err := f.svc.CloseExpiredWindow(ctx, f.ws, a.ID, now); err != nil || !closed {
			t.Fatalf("close: %v %v", closed, err)
		}
		got := f.get(t, a.ID)
		if got.WindowClosedAt == nil || got.EndedAt == nil || !got.EndedAt.Equal(deadline) || got.EndReason != model.EndWindow || f.got[a.ID] != 1 {
			t.Fatalf("window close: %+v (OnEnded %d)", got, f.got[a.ID])
		}
		if closed, err := f.svc.CloseExpiredWindow(ctx, f.ws, a.ID, now); err != nil || closed || len(f.ends(t, a.ID)) != 1 {
			t.Fatalf("closing again: %v %v", closed, err)
		}
		// The customer writes again: reopened; idle for WhatsApp's idle time, it ends again.
		back := now.Add(-3 * time.Hour)
		if _, err := s.AddMessage(ctx, &store.Message{WorkspaceID: f.ws, ConversationID: a.ID, Role: model.RoleUser, Content: "back", CreatedAt: back}); err != nil {
			t.Fatal(err)
		}
		if got := f.get(t, a.ID); got.EndedAt != nil {
			t.Fatalf("not reopened: %+v", got)
		}
		if n, err := f.svc.EndIdleConversations(ctx, sweepIdle, now, 0, 0); err != nil || n != 1 {
			t.Fatalf("sweep: %d %v", n, err)
		}
		es := f.ends(t, a.ID)
		if len(es) != 2 || es[1].Seq != 2 || es[1].Reason != model.EndIdle || !es[1].EndedAt.Equal(back.Add(sweepIdle.WhatsApp)) || f.got[a.ID] != 2 {
			t.Fatalf("second end: %+v (OnEnded %d)", es, f.got[a.ID])
		}

		// The window sweep (the expiry task was lost), with one conversation already ended.
		b := f.conv(t, model.TypeWhatsApp, now.Add(-30*time.Minute))
		open(b, b.LastMessageAt, now.Add(-10*time.Minute))
		c := f.conv(t, model.TypeWhatsApp, now.Add(-30*time.Minute))
		open(c, c.LastMessageAt, now.Add(-5*time.Minute))
		if _, err := f.svc.End(ctx, f.ws, c.ID, model.EndAgent, now.Add(-20*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if n, err := f.svc.CloseExpiredWindows(ctx, now, 10); err != nil || n != 2 {
			t.Fatalf("window sweep: %d %v", n, err)
		}
		if got := f.get(t, b.ID); got.EndReason != model.EndWindow || !got.EndedAt.Equal(now.Add(-10*time.Minute)) || f.got[b.ID] != 1 {
			t.Fatalf("swept window: %+v", got)
		}
		if got := f.get(t, c.ID); got.EndReason != model.EndAgent || len(f.ends(t, c.ID)) != 1 || f.got[c.ID] != 1 {
			t.Fatalf("ended before its window closed: %+v", got)
		}
	})
}

// An end asked for by a member or an API key (an actor in the context) is in the audit log,
// with the end, once; an end by the system (the sweep) is not.
func TestEndByActorIsAudited(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newEnds(t, s)
		c := f.conv(t, model.TypeTest, time.Now().UTC())
		actx := audit.WithActor(ctx, audit.Actor{Type: audit.ActorUser, ID: 7, Name: "Ada"})
		for range 2 {
			if _, err := f.svc.End(actx, f.ws, c.ID, model.EndClosed, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		sys := f.conv(t, model.TypeTest, time.Now().UTC())
		if _, err := f.svc.End(ctx, f.ws, sys.ID, model.EndIdle, time.Time{}); err != nil {
			t.Fatal(err)
		}
		var entries []store.AuditEntry
		if err := s.DB.NewSelect().Model(&entries).Where("workspace_id = ? AND action = ?", f.ws, string(audit.ConversationEnd)).Scan(ctx); err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].ActorName != "Ada" || entries[0].TargetID != strconv.FormatInt(c.ID, 10) {
			t.Fatalf("audit entries: %+v", entries)
		}
	})
}
