package team_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/team"
	"github.com/parleyhq/parley/app/testkit"
)

// recordingMailer records what Invite enqueues (the rules of this package, without a
// server); app/web/dashboard's invite test sends through app/mail to a real SMTP server.
type recordingMailer struct {
	mu      sync.Mutex
	enabled bool
	fail    error
	sent    []mail
}

type mail struct{ to, subject, text, html string }

func (m *recordingMailer) Enabled() bool { return m.enabled }

func (m *recordingMailer) Enqueue(_ context.Context, to, subject, text, html string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.sent = append(m.sent, mail{to, subject, text, html})
	return nil
}

type invFixture struct {
	s      *store.Store
	t      *team.Service
	now    time.Time
	owner  team.Actor
	admin  team.Actor
	a, b   *store.Workspace
	tokens map[string]string // the token of each invited email's last link
}

func (f *invFixture) link(token string) string { return "https://parley.test/invite/" + token }

func newInvFixture(t *testing.T, s *store.Store) *invFixture {
	ctx := context.Background()
	f := &invFixture{s: s, now: time.Now().UTC()}
	f.t = &team.Service{Store: s, Now: func() time.Time { return f.now }}
	h, _ := auth.HashPassword("correct-horse")
	var err error
	var owner *store.User
	if f.a, owner, err = s.CreateWorkspaceWithUser(ctx, "Alpha <b>", "owner@a.test", h); err != nil {
		t.Fatal(err)
	}
	admin, err := s.CreateMemberUser(ctx, f.a.ID, "admin@a.test", "Ada", h, model.UserRoleMember, model.MemberAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if f.b, _, err = s.CreateWorkspaceWithUser(ctx, "Beta", "owner@b.test", h); err != nil {
		t.Fatal(err)
	}
	f.owner = team.Actor{UserID: owner.ID, Role: model.MemberOwner}
	f.admin = team.Actor{UserID: admin.ID, Role: model.MemberAdmin}
	return f
}

func (f *invFixture) invite(t *testing.T, ws *store.Workspace, by team.Actor, email string, role model.MemberRole) (*team.Invitation, string) {
	t.Helper()
	inv, err := f.t.Invite(context.Background(), ws, by, email, role, f.link)
	if err != nil {
		t.Fatalf("invite %s: %v", email, err)
	}
	return inv, strings.TrimPrefix(inv.URL, "https://parley.test/invite/")
}

func TestInviteRules(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newInvFixture(t, s)
		inv, token := f.invite(t, f.a, f.admin, " New@X.test ", model.MemberAgent)
		if inv.Invite.Email != "New@X.test" || inv.Invite.Role != model.MemberAgent || *inv.Invite.InvitedBy != f.admin.UserID ||
			inv.Invite.ExpiresAt.Sub(inv.Invite.CreatedAt) != 7*24*time.Hour || len(token) < 20 || inv.Emailed {
			t.Fatalf("invite: %+v token %q", inv.Invite, token)
		}
		// Only the token's hash is stored.
		var n int
		if err := s.DB.NewRaw("SELECT count(*) FROM invites WHERE token_hash LIKE ?", "%"+token+"%").Scan(ctx, &n); err != nil || n != 0 {
			t.Fatalf("the token is stored: %d %v", n, err)
		}
		for _, tc := range []struct {
			by    team.Actor
			email string
			role  model.MemberRole
			want  string
		}{
			{f.admin, "", model.MemberAgent, "email: is required"},
			{f.admin, "not-an-email", model.MemberAgent, "email: "},
			{f.admin, "x@y.test", "boss", "role: must be one of"},
			{f.admin, "x@y.test", model.MemberOwner, team.ErrForbidden.Error()},
			{team.Actor{UserID: f.admin.UserID, Role: model.MemberAgent}, "x@y.test", model.MemberViewer, team.ErrForbidden.Error()},
			{f.owner, "ADMIN@a.test", model.MemberViewer, "email: ADMIN@a.test is already a member"},
		} {
			_, err := f.t.Invite(ctx, f.a, tc.by, tc.email, tc.role, f.link)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("invite %q as %s by %s: %v, want %q", tc.email, tc.role, tc.by.Role, err, tc.want)
			}
		}
		var me *team.MemberExistsError
		if _, err := f.t.Invite(ctx, f.a, f.owner, "admin@a.test", model.MemberViewer, f.link); !errors.As(err, &me) {
			t.Errorf("member exists: %v", err)
		}
		// Owners invite owners.
		f.invite(t, f.a, f.owner, "co-owner@x.test", model.MemberOwner)
		// Inviting the same email again replaces the open invite: the old link stops working.
		_, token2 := f.invite(t, f.a, f.owner, "new@x.test", model.MemberViewer)
		if _, err := f.t.Lookup(ctx, token); !errors.Is(err, team.ErrInviteNotFound) {
			t.Errorf("the replaced link: %v", err)
		}
		v, err := f.t.Lookup(ctx, token2)
		if err != nil || v.Invite.Role != model.MemberViewer || v.Workspace.ID != f.a.ID || v.HasAccount {
			t.Fatalf("lookup: %+v %v", v, err)
		}
		pending, err := f.t.Pending(ctx, f.a.ID)
		if err != nil || len(pending) != 2 || pending[0].Email != "new@x.test" || pending[1].Email != "co-owner@x.test" ||
			pending[0].InvitedByEmail == nil || *pending[0].InvitedByEmail != "owner@a.test" {
			t.Fatalf("pending: %+v %v", pending, err)
		}
		if other, err := f.t.Pending(ctx, f.b.ID); err != nil || len(other) != 0 {
			t.Fatalf("B's pending: %+v %v", other, err)
		}
		if _, err := f.t.Lookup(ctx, "nope"); !errors.Is(err, team.ErrInviteNotFound) {
			t.Errorf("unknown token: %v", err)
		}
	})
}

func TestInviteExpiryRevocationAndWrongWorkspace(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newInvFixture(t, s)
		// Expiry: by the service's clock, and by the stored expiry.
		inv, token := f.invite(t, f.a, f.admin, "late@x.test", model.MemberAgent)
		f.now = f.now.Add(7*24*time.Hour + time.Second)
		if _, err := f.t.Lookup(ctx, token); !errors.Is(err, team.ErrInviteNotFound) {
			t.Errorf("after 7 days: %v", err)
		}
		if _, _, err := f.t.AcceptNew(ctx, token, "Late", "long-enough", nil); !errors.Is(err, team.ErrInviteNotFound) {
			t.Errorf("accepting an expired invite: %v", err)
		}
		if p, _ := f.t.Pending(ctx, f.a.ID); len(p) != 0 {
			t.Errorf("an expired invite is pending: %+v", p)
		}
		f.now = time.Now().UTC()
		if _, err := f.t.Lookup(ctx, token); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		if err := s.SetInviteExpiry(ctx, inv.Invite.ID, time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.t.Lookup(ctx, token); !errors.Is(err, team.ErrInviteNotFound) {
			t.Errorf("stored expiry in the past: %v", err)
		}

		// Revocation: B's owner cannot revoke A's invite (not found, nothing changed); an
		// agent of A cannot; A's admin can, once.
		inv, token = f.invite(t, f.a, f.admin, "gone@x.test", model.MemberAgent)
		bOwner := team.Actor{UserID: 999, Role: model.MemberOwner}
		if _, err := f.t.Revoke(ctx, f.b.ID, bOwner, inv.Invite.ID); !errors.Is(err, team.ErrInviteNotFound) {
			t.Errorf("B revoking A's invite: %v", err)
		}
		if _, err := f.t.Revoke(ctx, f.a.ID, team.Actor{Role: model.MemberAgent}, inv.Invite.ID); !errors.Is(err, team.ErrForbidden) {
			t.Errorf("an agent revoking: %v", err)
		}
		if _, err := f.t.Lookup(ctx, token); err != nil {
			t.Fatalf("after refused revocations: %v", err)
		}
		if r, err := f.t.Revoke(ctx, f.a.ID, f.admin, inv.Invite.ID); err != nil || r.Email != "gone@x.test" || r.RevokedAt == nil {
			t.Fatalf("revoke: %+v %v", r, err)
		}
		if _, err := f.t.Revoke(ctx, f.a.ID, f.admin, inv.Invite.ID); !errors.Is(err, team.ErrInviteNotFound) {
			t.Errorf("revoking twice: %v", err)
		}
		if _, err := f.t.Lookup(ctx, token); !errors.Is(err, team.ErrInviteNotFound) {
			t.Errorf("a revoked link: %v", err)
		}

		// Wrong workspace: A's link makes a member of A, never of B.
		_, token = f.invite(t, f.a, f.admin, "joiner@x.test", model.MemberViewer)
		u, v, err := f.t.AcceptNew(ctx, token, "Joiner", "long-enough", nil)
		if err != nil || v.Workspace.ID != f.a.ID {
			t.Fatalf("accept: %v", err)
		}
		if ws, err := s.UserWorkspaces(ctx, u.ID); err != nil || len(ws) != 1 || ws[0].ID != f.a.ID || ws[0].Role != model.MemberViewer {
			t.Fatalf("the new member's workspaces: %+v %v", ws, err)
		}
		// Reuse: the link works once.
		if _, _, err := f.t.AcceptNew(ctx, token, "Again", "long-enough", nil); !errors.Is(err, team.ErrInviteNotFound) {
			t.Errorf("reuse: %v", err)
		}
		if _, err := f.t.AcceptAs(ctx, token, u); !errors.Is(err, team.ErrInviteNotFound) {
			t.Errorf("reuse by the account: %v", err)
		}
	})
}

func TestAcceptIsOneTransaction(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newInvFixture(t, s)
		_, token := f.invite(t, f.a, f.admin, "tx@x.test", model.MemberAgent)
		for _, tc := range []struct{ name, pw, want string }{
			{"", "long-enough", "name: is required"},
			{"Tx", "short", "password: must be at least 8"},
			{"Tx", strings.Repeat("p", 73), "password: must be at most 72"},
		} {
			if _, _, err := f.t.AcceptNew(ctx, token, tc.name, tc.pw, nil); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("accept with %q/%q: %v, want %q", tc.name, tc.pw, err, tc.want)
			}
		}
		// The login (a session row, written in the same transaction) fails: no account, no
		// membership, the link still open.
		boom := errors.New("boom")
		var seen *store.User
		_, _, err := f.t.AcceptNew(ctx, token, "Tx", "long-enough", func(ctx context.Context, u *store.User) error {
			seen = u
			// A store call with the transaction's context joins it (SQLite has one connection:
			// one that did not would wait for ever).
			if err := s.SaveSession(ctx, &store.Session{TokenHash: "tx-test", Data: []byte("{}"), Expiry: time.Now().Add(time.Hour), LastSeenAt: time.Now(), UserID: &u.ID, WorkspaceID: &u.WorkspaceID}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) || seen == nil || seen.WorkspaceID != f.a.ID || seen.Role != model.UserRoleMember {
			t.Fatalf("failed login: %v %+v", err, seen)
		}
		if _, err := s.UserByEmail(ctx, "tx@x.test"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an account was left behind: %v", err)
		}
		if _, err := s.SessionByHash(ctx, "tx-test"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a session was left behind: %v", err)
		}
		if _, err := f.t.Lookup(ctx, token); err != nil {
			t.Fatalf("the link after a failed accept: %v", err)
		}
		// Now it succeeds: account, membership, invite used and session, together.
		u, _, err := f.t.AcceptNew(ctx, token, " Tess ", "long-enough", func(ctx context.Context, u *store.User) error {
			return s.SaveSession(ctx, &store.Session{TokenHash: "tx-ok", Data: []byte("{}"), Expiry: time.Now().Add(time.Hour), LastSeenAt: time.Now(), UserID: &u.ID, WorkspaceID: &u.WorkspaceID})
		})
		if err != nil || u.Name != "Tess" || u.Role != model.UserRoleMember || !auth.CheckPassword(u.PasswordHash, "long-enough") {
			t.Fatalf("accept: %+v %v", u, err)
		}
		if m, err := s.MembershipOf(ctx, f.a.ID, u.ID); err != nil || m.Role != model.MemberAgent {
			t.Fatalf("membership: %+v %v", m, err)
		}
		if row, err := s.SessionByHash(ctx, "tx-ok"); err != nil || *row.UserID != u.ID || *row.WorkspaceID != f.a.ID {
			t.Fatalf("session: %+v %v", row, err)
		}
		var acceptedBy int64
		if err := s.DB.NewRaw("SELECT accepted_by FROM invites WHERE email = ?", "tx@x.test").Scan(ctx, &acceptedBy); err != nil || acceptedBy != u.ID {
			t.Fatalf("accepted_by %d %v", acceptedBy, err)
		}
	})
}

func TestAcceptByExistingAccount(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newInvFixture(t, s)
		// B's owner is invited to A.
		_, token := f.invite(t, f.a, f.admin, "OWNER@b.test", model.MemberAdmin)
		v, err := f.t.Lookup(ctx, token)
		if err != nil || !v.HasAccount {
			t.Fatalf("lookup: %+v %v", v, err)
		}
		if _, _, err := f.t.AcceptNew(ctx, token, "Someone", "long-enough", nil); !errors.Is(err, team.ErrSignInToAccept) {
			t.Errorf("a visitor for an email with an account: %v", err)
		}
		other, _ := s.UserByEmail(ctx, "admin@a.test")
		var wa *team.WrongAccountError
		if _, err := f.t.AcceptAs(ctx, token, other); !errors.As(err, &wa) || wa.Invited != "OWNER@b.test" {
			t.Errorf("another account: %v", err)
		}
		bOwner, _ := s.UserByEmail(ctx, "owner@b.test")
		if v, err := f.t.AcceptAs(ctx, token, bOwner); err != nil || v.Workspace.ID != f.a.ID {
			t.Fatalf("accept as: %v", err)
		}
		ws, err := s.UserWorkspaces(ctx, bOwner.ID)
		if err != nil || len(ws) != 2 {
			t.Fatalf("workspaces: %+v %v", ws, err)
		}
		roles := map[int64]model.MemberRole{ws[0].ID: ws[0].Role, ws[1].ID: ws[1].Role}
		if roles[f.a.ID] != model.MemberAdmin || roles[f.b.ID] != model.MemberOwner {
			t.Errorf("roles: %v", roles)
		}
		if u, _ := s.UserByID(ctx, bOwner.ID); u.WorkspaceID != f.a.ID {
			t.Errorf("the next login starts in %d, want %d", u.WorkspaceID, f.a.ID)
		}
	})
}

func TestInviteMail(t *testing.T) {
	ctx := context.Background()
	f := newInvFixture(t, testkit.Store(t))
	m := &recordingMailer{}
	f.t.Mailer = m
	if inv, _ := f.invite(t, f.a, f.admin, "quiet@x.test", model.MemberAgent); inv.Emailed || len(m.sent) != 0 {
		t.Fatalf("mail not enabled: emailed %v, %d sent", inv.Emailed, len(m.sent))
	}
	m.enabled = true
	inv, token := f.invite(t, f.a, f.admin, "loud@x.test", model.MemberViewer)
	if !inv.Emailed || len(m.sent) != 1 {
		t.Fatalf("emailed %v, %d sent", inv.Emailed, len(m.sent))
	}
	got := m.sent[0]
	if got.to != "loud@x.test" || !strings.Contains(got.subject, "Alpha <b>") || !strings.Contains(got.text, inv.URL) ||
		!strings.Contains(got.text, "Ada has invited you") || !strings.Contains(got.text, "as Viewer") ||
		!strings.Contains(got.html, "Alpha &lt;b&gt;") || strings.Contains(got.html, "Alpha <b>") || !strings.Contains(got.html, token) {
		t.Errorf("mail: %+v", got)
	}
	m.fail = errors.New("smtp down")
	inv, err := f.t.Invite(ctx, f.a, f.admin, "unlucky@x.test", model.MemberAgent, f.link)
	if err != nil || inv.Emailed || inv.MailErr == nil {
		t.Fatalf("a mail failure keeps the invite: %+v %v", inv, err)
	}
	if _, err := f.t.Lookup(ctx, strings.TrimPrefix(inv.URL, "https://parley.test/invite/")); err != nil {
		t.Errorf("the link after a mail failure: %v", err)
	}
}

func TestScriptMembers(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newInvFixture(t, s)
		u, err := f.t.CreateMemberForScript(ctx, f.b.ID, "ops@x.test", model.MemberOwner, "long-enough")
		if err != nil || u.Role != model.UserRoleMember {
			t.Fatalf("create: %+v %v", u, err)
		}
		if m, err := s.MembershipOf(ctx, f.b.ID, u.ID); err != nil || m.Role != model.MemberOwner {
			t.Fatalf("membership: %+v %v", m, err)
		}
		for _, tc := range []struct {
			email string
			role  model.MemberRole
			pw    string
			want  string
		}{
			{"OPS@x.test", model.MemberAgent, "long-enough", "email: OPS@x.test has an account already"},
			{"bad", model.MemberAgent, "long-enough", "email: "},
			{"n@x.test", "chief", "long-enough", "role: "},
			{"n@x.test", model.MemberAgent, "short", "password: must be at least 8"},
		} {
			if _, err := f.t.CreateMemberForScript(ctx, f.b.ID, tc.email, tc.role, tc.pw); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("%s: %v, want %q", tc.email, err, tc.want)
			}
		}
		if _, err := f.t.InviteForScript(ctx, f.b, "ops@x.test", model.MemberAgent, f.link); err == nil || !strings.Contains(err.Error(), "has an account already") {
			t.Errorf("invite for an account: %v", err)
		}
		inv, err := f.t.InviteForScript(ctx, f.b, "later@x.test", model.MemberOwner, f.link)
		if err != nil || inv.Invite.InvitedBy != nil || inv.Invite.Role != model.MemberOwner {
			t.Fatalf("script invite: %+v %v", inv, err)
		}
	})
}
