package team_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/team"
	"github.com/parleyhq/parley/app/testkit"
)

// fixture: a workspace W owned by ana, with bo (admin), cy (agent) and di (viewer); and a
// second workspace X owned by xu.
type fixture struct {
	s               *store.Store
	t               *team.Service
	w, x            *store.Workspace
	ana, bo, cy, di *store.User
	xu              *store.User
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	s := testkit.Store(t)
	f := &fixture{s: s, t: &team.Service{Store: s}}
	var err error
	if f.w, f.ana, err = s.CreateWorkspaceWithUser(ctx, "W", "ana@w.test", "h"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		u    **store.User
		mail string
		role model.MemberRole
	}{{&f.bo, "bo@w.test", model.MemberAdmin}, {&f.cy, "cy@w.test", model.MemberAgent}, {&f.di, "di@w.test", model.MemberViewer}} {
		if *m.u, err = s.CreateMemberUser(ctx, f.w.ID, m.mail, "", "h", model.UserRoleMember, m.role); err != nil {
			t.Fatal(err)
		}
	}
	if f.x, f.xu, err = s.CreateWorkspaceWithUser(ctx, "X", "xu@x.test", "h"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) role(t *testing.T, u *store.User) model.MemberRole {
	t.Helper()
	m, err := f.s.MembershipOf(context.Background(), f.w.ID, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return m.Role
}

func actor(u *store.User, r model.MemberRole) team.Actor { return team.Actor{UserID: u.ID, Role: r} }

func TestFirstAccountIsOwnerAndInstallationAdmin(t *testing.T) {
	f := setup(t)
	if f.role(t, f.ana) != model.MemberOwner || !model.IsAdmin(f.ana.Role) {
		t.Fatalf("the first account: %q installation %q", f.role(t, f.ana), f.ana.Role)
	}
	if model.IsAdmin(f.xu.Role) || model.IsAdmin(f.bo.Role) {
		t.Fatalf("later accounts are no installation admins: %q %q", f.xu.Role, f.bo.Role)
	}
}

func TestRoleChangesFollowTheRules(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	// An admin manages agents and viewers, and admins.
	if _, err := f.t.ChangeRole(ctx, f.w.ID, actor(f.bo, model.MemberAdmin), f.cy.ID, model.MemberViewer); err != nil || f.role(t, f.cy) != model.MemberViewer {
		t.Fatalf("admin demotes an agent: %v %q", err, f.role(t, f.cy))
	}
	// An admin cannot make an owner, nor touch one.
	if _, err := f.t.ChangeRole(ctx, f.w.ID, actor(f.bo, model.MemberAdmin), f.cy.ID, model.MemberOwner); !errors.Is(err, team.ErrForbidden) {
		t.Fatalf("admin makes an owner: %v", err)
	}
	if _, err := f.t.ChangeRole(ctx, f.w.ID, actor(f.bo, model.MemberAdmin), f.ana.ID, model.MemberViewer); !errors.Is(err, team.ErrForbidden) || f.role(t, f.ana) != model.MemberOwner {
		t.Fatalf("admin demotes the owner: %v", err)
	}
	if _, err := f.t.Remove(ctx, f.w.ID, actor(f.bo, model.MemberAdmin), f.ana.ID); !errors.Is(err, team.ErrForbidden) || f.role(t, f.ana) != model.MemberOwner {
		t.Fatalf("admin removes the owner: %v", err)
	}
	// Agents and viewers change nobody.
	if _, err := f.t.ChangeRole(ctx, f.w.ID, actor(f.di, model.MemberViewer), f.cy.ID, model.MemberAdmin); !errors.Is(err, team.ErrForbidden) {
		t.Fatalf("a viewer promotes: %v", err)
	}
	// A wrong role names the field; a stranger is not a member.
	var fe *team.FieldError
	if _, err := f.t.ChangeRole(ctx, f.w.ID, actor(f.ana, model.MemberOwner), f.cy.ID, "boss"); !errors.As(err, &fe) || fe.Field != "role" {
		t.Fatalf("a wrong role: %v", err)
	}
	if _, err := f.t.ChangeRole(ctx, f.w.ID, actor(f.ana, model.MemberOwner), f.xu.ID, model.MemberAgent); !errors.Is(err, team.ErrNotMember) {
		t.Fatalf("another workspace's member: %v", err)
	}
	// The owner makes bo an owner; then ana may step down, and bo is the last owner.
	if _, err := f.t.ChangeRole(ctx, f.w.ID, actor(f.ana, model.MemberOwner), f.bo.ID, model.MemberOwner); err != nil {
		t.Fatal(err)
	}
	if _, err := f.t.ChangeRole(ctx, f.w.ID, actor(f.ana, model.MemberOwner), f.ana.ID, model.MemberAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := f.t.ChangeRole(ctx, f.w.ID, actor(f.bo, model.MemberOwner), f.bo.ID, model.MemberAdmin); !errors.Is(err, team.ErrLastOwner) || f.role(t, f.bo) != model.MemberOwner {
		t.Fatalf("the last owner steps down: %v %q", err, f.role(t, f.bo))
	}
	if _, err := f.t.Remove(ctx, f.w.ID, actor(f.bo, model.MemberOwner), f.bo.ID); !errors.Is(err, team.ErrLastOwner) || f.role(t, f.bo) != model.MemberOwner {
		t.Fatalf("the last owner leaves: %v", err)
	}
}

// Two owners demoting each other at once: one wins, the workspace keeps an owner.
func TestTwoOwnersCannotBothStepDown(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if _, err := f.t.ChangeRole(ctx, f.w.ID, actor(f.ana, model.MemberOwner), f.bo.ID, model.MemberOwner); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 5; round++ {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, u := range []*store.User{f.ana, f.bo} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = f.t.Remove(ctx, f.w.ID, actor(u, model.MemberOwner), u.ID)
			}()
		}
		wg.Wait()
		owners := 0
		ms, err := f.s.Members(ctx, f.w.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Role == model.MemberOwner {
				owners++
			}
		}
		if owners != 1 {
			t.Fatalf("round %d: %d owners left (%v)", round, owners, errs)
		}
		// Put the one who left back as an owner for the next round.
		for _, u := range []*store.User{f.ana, f.bo} {
			if f.role(t, u) == "" {
				if err := f.s.AddMember(ctx, f.w.ID, u.ID, model.MemberOwner); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// Removing a member ends every session they have, and moves where they start next.
func TestRemovalEndsSessions(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if err := f.s.AddMember(ctx, f.x.ID, f.cy.ID, model.MemberViewer); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i, h := range []string{"cy1", "cy2", "di1"} {
		uid := f.cy.ID
		if h == "di1" {
			uid = f.di.ID
		}
		ws := f.w.ID
		r := &store.Session{TokenHash: h, Data: []byte("x"), Expiry: now.Add(time.Hour), LastSeenAt: now.Add(time.Duration(i) * time.Second), UserID: &uid, WorkspaceID: &ws}
		if err := f.s.SaveSession(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.t.Remove(ctx, f.w.ID, actor(f.ana, model.MemberOwner), f.cy.ID); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"cy1", "cy2"} {
		if _, err := f.s.SessionByHash(ctx, h); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session %s of the removed member: %v", h, err)
		}
	}
	if _, err := f.s.SessionByHash(ctx, "di1"); err != nil {
		t.Errorf("another member's session: %v", err)
	}
	if f.role(t, f.cy) != "" {
		t.Fatal("still a member")
	}
	// cy starts in X now, the workspace left to them.
	seat, switched, err := f.t.Seat(ctx, f.cy.ID, f.w.ID)
	if err != nil || !switched || seat.Workspace.ID != f.x.ID || seat.Role != model.MemberViewer {
		t.Fatalf("cy's seat: %+v %v %v", seat, switched, err)
	}
	u, _ := f.s.UserByID(ctx, f.cy.ID)
	if u.WorkspaceID != f.x.ID {
		t.Fatalf("cy starts in %d, want X %d", u.WorkspaceID, f.x.ID)
	}
	// Removed from everything: no seat at all.
	if _, err := f.t.Remove(ctx, f.x.ID, actor(f.xu, model.MemberOwner), f.cy.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.t.Seat(ctx, f.cy.ID, f.x.ID); !errors.Is(err, team.ErrNoWorkspace) {
		t.Fatalf("no workspace left: %v", err)
	}
}

func TestSwitchOnlyToOwnWorkspaces(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if _, err := f.t.Switch(ctx, f.bo.ID, f.x.ID); !errors.Is(err, team.ErrNotMember) {
		t.Fatalf("switching to a foreign workspace: %v", err)
	}
	if err := f.s.AddMember(ctx, f.x.ID, f.bo.ID, model.MemberAgent); err != nil {
		t.Fatal(err)
	}
	if ws, err := f.t.Switch(ctx, f.bo.ID, f.x.ID); err != nil || ws.ID != f.x.ID {
		t.Fatalf("switch: %v", err)
	}
	list, err := f.t.Workspaces(ctx, f.bo.ID)
	if err != nil || len(list) != 2 || list[0].Name != "W" || list[0].Role != model.MemberAdmin || list[1].Role != model.MemberAgent {
		t.Fatalf("bo's workspaces: %+v %v", list, err)
	}
}

func TestCreatingWorkspaces(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if _, err := f.t.CreateWorkspace(ctx, f.bo.ID, f.bo.Role, "Mine"); !errors.Is(err, team.ErrForbidden) {
		t.Fatalf("a member who is no installation admin: %v", err)
	}
	ws, err := f.t.CreateWorkspace(ctx, f.ana.ID, f.ana.Role, "  Agency client  ")
	if err != nil || ws.Name != "Agency client" {
		t.Fatalf("the installation admin: %+v %v", ws, err)
	}
	if m, err := f.s.MembershipOf(ctx, ws.ID, f.ana.ID); err != nil || m.Role != model.MemberOwner {
		t.Fatalf("the creator owns it: %+v %v", m, err)
	}
	open := &team.Service{Store: f.s, OpenSignup: true}
	if _, err := open.CreateWorkspace(ctx, f.bo.ID, f.bo.Role, "Open"); err != nil {
		t.Fatalf("open signup: %v", err)
	}
	var fe *team.FieldError
	if _, err := open.CreateWorkspace(ctx, f.bo.ID, f.bo.Role, "   "); !errors.As(err, &fe) || fe.Field != "name" {
		t.Fatalf("an empty name: %v", err)
	}
	if _, err := f.t.CreateWorkspaceForScript(ctx, "S", "nobody@x.test"); !errors.As(err, &fe) || fe.Field != "owner-email" {
		t.Fatalf("an unknown owner: %v", err)
	}
	s, err := f.t.CreateWorkspaceForScript(ctx, "S", "DI@w.test")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := f.s.MembershipOf(ctx, s.ID, f.di.ID); err != nil || m.Role != model.MemberOwner {
		t.Fatalf("the script's owner: %+v %v", m, err)
	}
}

func TestRoleOrder(t *testing.T) {
	cases := []struct {
		have, need model.MemberRole
		ok         bool
	}{
		{model.MemberOwner, model.MemberAdmin, true}, {model.MemberAdmin, model.MemberOwner, false},
		{model.MemberAgent, model.MemberAgent, true}, {model.MemberViewer, model.MemberAgent, false},
		{model.MemberAdmin, model.MemberViewer, true}, {"boss", model.MemberViewer, false}, {"", model.MemberViewer, false},
	}
	for _, c := range cases {
		if got := c.have.AtLeast(c.need); got != c.ok {
			t.Errorf("%q at least %q: %v", c.have, c.need, got)
		}
	}
}

// Deleting a workspace: an owner who types its name; members of other workspaces stay (and
// start elsewhere), accounts with no other workspace go with it; an installation admin is
// never left without one.
func TestDeletingAWorkspace(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if err := f.s.AddMember(ctx, f.x.ID, f.bo.ID, model.MemberAgent); err != nil {
		t.Fatal(err)
	}
	conv := &store.Conversation{WorkspaceID: f.w.ID, Type: model.TypeTest, Customer: "c", StartedAt: time.Now().UTC()}
	if err := f.s.CreateConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	if err := f.t.DeleteWorkspace(ctx, f.w, actor(f.bo, model.MemberAdmin), "W"); !errors.Is(err, team.ErrForbidden) {
		t.Fatalf("an admin deletes: %v", err)
	}
	var fe *team.FieldError
	if err := f.t.DeleteWorkspace(ctx, f.w, actor(f.ana, model.MemberOwner), "w"); !errors.As(err, &fe) || fe.Field != "confirm" {
		t.Fatalf("a wrong name: %v", err)
	}
	// ana is the installation admin and W her only workspace: refused, nothing deleted.
	if err := f.t.DeleteWorkspace(ctx, f.w, actor(f.ana, model.MemberOwner), "W"); !errors.Is(err, team.ErrAdminWithoutWorkspace) {
		t.Fatalf("the installation admin's only workspace: %v", err)
	}
	if _, err := f.s.GetConversation(ctx, f.w.ID, conv.ID); err != nil {
		t.Fatalf("a refused deletion deleted: %v", err)
	}
	orphans, err := f.t.Orphans(ctx, f.w.ID)
	if err != nil || len(orphans) != 3 { // ana, cy, di; bo is in X too
		t.Fatalf("orphans: %+v %v", orphans, err)
	}
	if err := f.s.AddMember(ctx, f.x.ID, f.ana.ID, model.MemberViewer); err != nil {
		t.Fatal(err)
	}
	if err := f.t.DeleteWorkspace(ctx, f.w, actor(f.ana, model.MemberOwner), " W "); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.WorkspaceByID(ctx, f.w.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the workspace: %v", err)
	}
	if _, err := f.s.GetConversation(ctx, f.w.ID, conv.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("its conversation: %v", err)
	}
	for _, u := range []*store.User{f.ana, f.bo} {
		got, err := f.s.UserByID(ctx, u.ID)
		if err != nil || got.WorkspaceID != f.x.ID {
			t.Fatalf("%s stays, starting in X: %+v %v", u.Email, got, err)
		}
	}
	for _, u := range []*store.User{f.cy, f.di} {
		if _, err := f.s.UserByID(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s had no other workspace: %v", u.Email, err)
		}
	}
}

// Member changes are in the audit log, written with the change: a refused change (the last
// owner) leaves no entry.
func TestMemberChangesAreAudited(t *testing.T) {
	f := setup(t)
	ctx := audit.WithActor(context.Background(), audit.UserActor(f.ana))
	count := func(action audit.Action) int {
		t.Helper()
		n, err := f.s.DB.NewSelect().Table("audit_log").Where("workspace_id = ?", f.w.ID).Where("action = ?", string(action)).Count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	if _, err := f.t.ChangeRole(ctx, f.w.ID, actor(f.ana, model.MemberOwner), f.cy.ID, model.MemberViewer); err != nil {
		t.Fatal(err)
	}
	if _, err := f.t.Remove(ctx, f.w.ID, actor(f.ana, model.MemberOwner), f.di.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.t.Remove(ctx, f.w.ID, actor(f.ana, model.MemberOwner), f.ana.ID); !errors.Is(err, team.ErrLastOwner) {
		t.Fatal(err)
	}
	if n := count(audit.MemberRoleChange); n != 1 {
		t.Fatalf("role changes recorded: %d", n)
	}
	if n := count(audit.MemberRemove); n != 1 {
		t.Fatalf("removals recorded (the refused one not): %d", n)
	}
	var e store.AuditEntry
	if err := f.s.DB.NewSelect().Model(&e).Where("workspace_id = ?", f.w.ID).Where("action = ?", string(audit.MemberRoleChange)).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.ActorName != "ana@w.test" || e.TargetID != strconv.FormatInt(f.cy.ID, 10) || !strings.Contains(e.Details, `"to":"viewer"`) {
		t.Fatalf("the entry: %+v", e)
	}
	ws, err := f.t.CreateWorkspace(ctx, f.ana.ID, f.ana.Role, "New")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := f.s.DB.NewSelect().Table("audit_log").Where("workspace_id = ?", ws.ID).Where("action = ?", string(audit.WorkspaceCreate)).Count(context.Background()); n != 1 {
		t.Fatalf("workspace creation recorded in it: %d", n)
	}
}
