package review_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/review"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

type fixture struct {
	s              *store.Store
	svc            *review.Service
	ws, other      int64
	owner, agent   *store.User
	outsider       *store.User
	conv, conv2    *store.Conversation
	userMsg, reply *store.Message
	otherMsg       *store.Message
	ctx            context.Context
}

func setup(t *testing.T, s *store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	w, owner, err := s.CreateWorkspaceWithUser(ctx, "Shop", "owner@shop.test", "hash")
	if err != nil {
		t.Fatal(err)
	}
	agent, err := s.CreateMemberUser(ctx, w.ID, "Agent@Shop.test", "Ana Agent", "hash", "", model.MemberAgent)
	if err != nil {
		t.Fatal(err)
	}
	ow, outsider, err := s.CreateWorkspaceWithUser(ctx, "Other", "x@other.test", "hash")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: s, svc: &review.Service{Store: s}, ws: w.ID, other: ow.ID, owner: owner, agent: agent, outsider: outsider}
	f.ctx = audit.WithActor(ctx, audit.UserActor(agent))
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for i, c := range []**store.Conversation{&f.conv, &f.conv2} {
		*c = &store.Conversation{WorkspaceID: w.ID, Type: model.TypeWidget, Customer: "visitor-" + string(rune('a'+i)), StartedAt: base, LastMessageAt: base.Add(time.Duration(i) * time.Minute)}
		if err := s.CreateConversation(ctx, *c); err != nil {
			t.Fatal(err)
		}
	}
	add := func(conv *store.Conversation, role, text string) *store.Message {
		m := &store.Message{WorkspaceID: w.ID, ConversationID: conv.ID, Role: role, Content: text, CreatedAt: store.Now()}
		if _, err := s.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	f.userMsg = add(f.conv, model.RoleUser, "Where is my order?")
	f.reply = add(f.conv, model.RoleAssistant, "I cannot tell.")
	f.otherMsg = add(f.conv2, model.RoleAssistant, "Another conversation's answer.")
	return f
}

func wantField(t *testing.T, what string, err error, field string) {
	t.Helper()
	var fe *review.FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Fatalf("%s: got %v, want a field error on %q", what, err, field)
	}
}

// The review status keeps the reviewer (id and name as it was) and time; unreviewed clears
// them. An assignee must be a member of the workspace (by id or by email); nil unassigns.
// Every change has its audit entry.
func TestReviewStatusAndAssignee(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s)
		ctx := f.ctx
		if err := f.svc.Update(ctx, f.ws, f.conv.ID, review.Change{Status: model.ReviewFlagged}); err != nil {
			t.Fatal(err)
		}
		c, _ := s.GetConversation(ctx, f.ws, f.conv.ID)
		if c.ReviewStatus != model.ReviewFlagged || c.ReviewedByID == nil || *c.ReviewedByID != f.agent.ID || c.ReviewedBy != "Ana Agent" || c.ReviewedAt == nil {
			t.Fatalf("flagged: %+v", c)
		}
		if err := f.svc.Update(ctx, f.ws, f.conv.ID, review.Change{Status: model.ReviewUnreviewed}); err != nil {
			t.Fatal(err)
		}
		c, _ = s.GetConversation(ctx, f.ws, f.conv.ID)
		if c.ReviewStatus != model.ReviewUnreviewed || c.ReviewedByID != nil || c.ReviewedBy != "" || c.ReviewedAt != nil {
			t.Fatalf("unreviewed: %+v", c)
		}

		for _, tc := range []struct {
			name  string
			ch    review.Change
			field string
		}{
			{"unknown status", review.Change{Status: "done"}, "status"},
			{"nothing", review.Change{}, "status"},
			{"an outsider by id", review.Change{SetAssignee: true, AssigneeID: f.outsider.ID}, "assignee"},
			{"an outsider by email", review.Change{SetAssignee: true, AssigneeEmail: "x@other.test"}, "assignee"},
			{"nobody's id", review.Change{SetAssignee: true, AssigneeID: 999999}, "assignee"},
			{"a valid status with a bad assignee", review.Change{Status: model.ReviewReviewed, SetAssignee: true, AssigneeID: f.outsider.ID}, "assignee"},
		} {
			wantField(t, tc.name, f.svc.Update(ctx, f.ws, f.conv.ID, tc.ch), tc.field)
		}
		// Never half-written: the bad assignee rolled the status back.
		if c, _ = s.GetConversation(ctx, f.ws, f.conv.ID); c.ReviewStatus != model.ReviewUnreviewed || c.AssigneeID != nil {
			t.Fatalf("a refused change wrote: %+v", c)
		}
		if err := f.svc.Update(ctx, f.ws, f.conv.ID, review.Change{SetAssignee: true, AssigneeEmail: "agent@SHOP.test"}); err != nil {
			t.Fatal(err)
		}
		if c, _ = s.GetConversation(ctx, f.ws, f.conv.ID); c.AssigneeID == nil || *c.AssigneeID != f.agent.ID {
			t.Fatalf("assigned by email: %+v", c.AssigneeID)
		}
		if err := f.svc.Update(ctx, f.ws, f.conv.ID, review.Change{SetAssignee: true, AssigneeID: f.owner.ID}); err != nil {
			t.Fatal(err)
		}
		if c, _ = s.GetConversation(ctx, f.ws, f.conv.ID); c.AssigneeID == nil || *c.AssigneeID != f.owner.ID {
			t.Fatalf("assigned by id: %+v", c.AssigneeID)
		}
		if err := f.svc.Update(ctx, f.ws, f.conv.ID, review.Change{SetAssignee: true}); err != nil {
			t.Fatal(err)
		}
		if c, _ = s.GetConversation(ctx, f.ws, f.conv.ID); c.AssigneeID != nil {
			t.Fatalf("unassigned: %+v", c.AssigneeID)
		}
		// Another workspace's conversation does not exist here.
		if err := f.svc.Update(ctx, f.other, f.conv.ID, review.Change{Status: model.ReviewReviewed}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace: %v", err)
		}
		entries, _, err := s.AuditLog(ctx, f.ws, store.AuditFilter{}, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		var reviews, assigns int
		for _, e := range entries {
			switch e.Action {
			case string(audit.ConversationReview):
				reviews++
			case string(audit.ConversationAssign):
				assigns++
			}
		}
		if reviews != 2 || assigns != 3 {
			t.Fatalf("audit: %d reviews, %d assigns; want 2 and 3", reviews, assigns)
		}
	})
}

// Tags: names unique case-insensitively, colours from the palette or #rrggbb, created when
// named on a conversation, many per conversation, read for a page in one call; deleting a
// tag takes it off every conversation.
func TestTags(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s)
		ctx := f.ctx
		urgent, err := f.svc.CreateTag(ctx, f.ws, "  Urgent ", "RED")
		if err != nil || urgent.Name != "Urgent" || urgent.Color != "red" || urgent.ID == 0 {
			t.Fatalf("create: %+v %v", urgent, err)
		}
		if _, err := f.svc.CreateTag(ctx, f.ws, "urgent", ""); !errors.Is(err, review.ErrTagExists) {
			t.Fatalf("same name, other case: %v", err)
		}
		if _, err := f.svc.CreateTag(ctx, f.other, "urgent", ""); err != nil {
			t.Fatalf("another workspace may have its own: %v", err)
		}
		for _, tc := range []struct{ name, color, field string }{
			{"", "red", "name"},
			{strings.Repeat("x", 51), "red", "name"},
			{"bell\x07", "red", "name"},
			{"ok", "pink", "color"},
			{"ok", "#12345", "color"},
			{"ok", "javascript:alert(1)", "color"},
		} {
			_, err := f.svc.CreateTag(ctx, f.ws, tc.name, tc.color)
			wantField(t, tc.name+"/"+tc.color, err, tc.field)
		}
		if _, err := f.svc.CreateTag(ctx, f.ws, strings.Repeat("é", 50), "#A0b1C2"); err != nil {
			t.Fatalf("50 characters and a hex colour: %v", err)
		}
		billing, err := f.svc.CreateTag(ctx, f.ws, "Billing", "blue")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.UpdateTag(ctx, f.ws, billing.ID, "URGENT", "blue"); !errors.Is(err, review.ErrTagExists) {
			t.Fatalf("rename onto another: %v", err)
		}
		if _, err := f.svc.UpdateTag(ctx, f.ws, billing.ID, "Invoices", "#00ff00"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.UpdateTag(ctx, f.other, billing.ID, "Mine", "red"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace's tag: %v", err)
		}

		// On conversations: an existing tag by any case, a new one created grey; twice is once.
		if _, err := f.svc.Tag(ctx, f.ws, f.conv.ID, "urgent"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Tag(ctx, f.ws, f.conv.ID, "URGENT"); err != nil {
			t.Fatal(err)
		}
		newTag, err := f.svc.Tag(ctx, f.ws, f.conv.ID, "Refund")
		if err != nil || newTag.Color != review.DefaultColor {
			t.Fatalf("new tag: %+v %v", newTag, err)
		}
		if _, err := f.svc.Tag(ctx, f.ws, f.conv2.ID, "invoices"); err != nil {
			t.Fatal(err)
		}
		wantField(t, "an empty tag", func() error { _, err := f.svc.Tag(ctx, f.ws, f.conv.ID, "  "); return err }(), "tag")
		if _, err := f.svc.Tag(ctx, f.other, f.conv.ID, "x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("tagging another workspace's conversation: %v", err)
		}
		page, err := f.svc.PageOf(ctx, f.ws, []store.Conversation{*f.conv, *f.conv2})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(page.Tags[f.conv.ID]); got != "Refund,Urgent" {
			t.Fatalf("conv tags: %s", got)
		}
		if got := names(page.Tags[f.conv2.ID]); got != "Invoices" {
			t.Fatalf("conv2 tags: %s", got)
		}
		if err := f.svc.Untag(ctx, f.ws, f.conv.ID, "refund"); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Untag(ctx, f.ws, f.conv.ID, "never-was"); err != nil {
			t.Fatalf("untag what it has not: %v", err)
		}
		if err := f.svc.DeleteTag(ctx, f.ws, urgent.ID); err != nil {
			t.Fatal(err)
		}
		page, _ = f.svc.PageOf(ctx, f.ws, []store.Conversation{*f.conv, *f.conv2})
		if got := names(page.Tags[f.conv.ID]); got != "" {
			t.Fatalf("after untag and delete: %s", got)
		}
		if err := f.svc.DeleteTag(ctx, f.ws, urgent.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
	})
}

func names(ts []store.Tag) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return strings.Join(out, ",")
}

// Notes: on the conversation or one of its messages (not another conversation's), with the
// author, at most 4000 characters. Corrections: on an assistant message of the conversation
// only; correcting again replaces the text and author and keeps the first time.
func TestNotesAndCorrections(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s)
		ctx := f.ctx
		n, err := f.svc.AddNote(ctx, f.ws, f.conv.ID, "  Customer was angry.  ", 0)
		if err != nil || n.ID == 0 || n.Text != "Customer was angry." || n.MessageID != nil || n.AuthorName != "Ana Agent" || *n.AuthorID != f.agent.ID {
			t.Fatalf("note: %+v %v", n, err)
		}
		if _, err := f.svc.AddNote(ctx, f.ws, f.conv.ID, "On the question.", f.userMsg.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AddNote(ctx, f.ws, f.conv.ID, strings.Repeat("n", review.MaxNote), 0); err != nil {
			t.Fatalf("4000 characters: %v", err)
		}
		for _, tc := range []struct {
			name  string
			text  string
			msg   int64
			field string
		}{
			{"empty", " \n ", 0, "text"},
			{"too long", strings.Repeat("n", review.MaxNote+1), 0, "text"},
			{"another conversation's message", "x", f.otherMsg.ID, "message_id"},
			{"no such message", "x", 987654, "message_id"},
			{"a negative id", "x", -1, "message_id"},
		} {
			_, err := f.svc.AddNote(ctx, f.ws, f.conv.ID, tc.text, tc.msg)
			wantField(t, "note "+tc.name, err, tc.field)
		}
		if _, err := f.svc.AddNote(ctx, f.other, f.conv.ID, "x", 0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("note in another workspace: %v", err)
		}
		notes, _ := s.Notes(ctx, f.ws, f.conv.ID)
		if len(notes) != 3 || notes[1].MessageID == nil || *notes[1].MessageID != f.userMsg.ID {
			t.Fatalf("notes: %+v", notes)
		}

		c1, err := f.svc.Correct(ctx, f.ws, f.conv.ID, f.reply.ID, "Your order ships tomorrow.")
		if err != nil {
			t.Fatal(err)
		}
		ownerCtx := audit.WithActor(context.Background(), audit.UserActor(f.owner))
		if _, err := f.svc.Correct(ownerCtx, f.ws, f.conv.ID, f.reply.ID, "It ships on Monday."); err != nil {
			t.Fatal(err)
		}
		cs, _ := s.Corrections(ctx, f.ws, f.conv.ID)
		got := cs[f.reply.ID]
		if len(cs) != 1 || got.Text != "It ships on Monday." || got.AuthorName != "owner@shop.test" || !got.CreatedAt.Equal(c1.CreatedAt) || got.UpdatedAt.Before(got.CreatedAt) {
			t.Fatalf("replaced correction: %+v (first %+v)", got, c1)
		}
		for _, tc := range []struct {
			name  string
			msg   int64
			text  string
			field string
		}{
			{"a customer message", f.userMsg.ID, "x", "message_id"},
			{"another conversation's message", f.otherMsg.ID, "x", "message_id"},
			{"empty", f.reply.ID, "", "text"},
			{"too long", f.reply.ID, strings.Repeat("c", review.MaxCorrection+1), "text"},
		} {
			_, err := f.svc.Correct(ctx, f.ws, f.conv.ID, tc.msg, tc.text)
			wantField(t, "correction "+tc.name, err, tc.field)
		}
		if err := f.svc.Uncorrect(ctx, f.ws, f.conv.ID, f.reply.ID); err != nil {
			t.Fatal(err)
		}
		if cs, _ = s.Corrections(ctx, f.ws, f.conv.ID); len(cs) != 0 {
			t.Fatalf("after removal: %+v", cs)
		}
	})
}

// The neighbours of a conversation in a list follow the list's filter and order.
func TestNeighbours(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s)
		ctx := f.ctx
		base := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
		var ids []int64 // newest first, as the list shows them
		for i := range 4 {
			c := &store.Conversation{WorkspaceID: f.ws, Type: model.TypeWhatsApp, Customer: "+49" + string(rune('0'+i)), StartedAt: base,
				LastMessageAt: base.Add(time.Duration(10-i) * time.Minute), CostNanos: int64(i) * 1000}
			if err := s.CreateConversation(ctx, c); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, c.ID)
		}
		get := func(id int64) *store.Conversation {
			c, err := s.GetConversation(ctx, f.ws, id)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		for _, tc := range []struct {
			name       string
			from       string
			at         int64
			prev, next int64
		}{
			{"first of the WhatsApp list", url.Values{"type": {"whatsapp"}}.Encode(), ids[0], 0, ids[1]},
			{"middle", "type=whatsapp", ids[1], ids[0], ids[2]},
			{"last", "type=whatsapp", ids[3], ids[2], 0},
			{"by cost, most expensive first", "type=whatsapp&sort=cost", ids[2], ids[3], ids[1]},
			{"a broken query has none", "%zz", ids[1], 0, 0},
			{"the whole list: the widget conversations are newer", "", ids[0], f.conv.ID, ids[1]},
			{"the end of the whole list", "", ids[3], ids[2], 0},
		} {
			prev, next, err := f.svc.Neighbours(ctx, get(tc.at), tc.from)
			if err != nil || prev != tc.prev || next != tc.next {
				t.Errorf("%s: prev %d next %d (%v), want %d %d", tc.name, prev, next, err, tc.prev, tc.next)
			}
		}
	})
}
