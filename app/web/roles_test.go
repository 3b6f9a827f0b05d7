package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/app/web/webtest"
)

// The role matrix: every dashboard route by every workspace role. A role below the route's
// access (the route table's) gets 403, for plain and htmx requests alike, and nothing in the
// workspace changes; a role at or above it gets through (neither 403 nor a login redirect nor
// a server error). Safe routes are called by every allowed role; an unsafe one (which changes
// what later calls need) by the lowest role it allows, at the end, destructive ones last.
// Helpers carry an "rm" prefix; the fixture and the routes' parameters are authz_test's.

// rmMember is one member of the matrix's workspace.
type rmMember struct {
	role  model.MemberRole
	email string
	c     *http.Client
	csrf  string
}

// rmAllowed is who may call a route: its access in the route table, except where the rule is
// the installation's (creating workspaces: its admins, here A's owner, unless signup is open).
func rmAllowed(r routenames.Route, m rmMember, installationAdmin bool) bool {
	switch r.Name {
	case routenames.WorkspacesNew, routenames.WorkspacesCreate:
		return installationAdmin
	}
	if r.Access == model.AccessInstallation {
		return installationAdmin
	}
	return m.role.AtLeast(r.Access.Role())
}

func TestRoleMatrixOfEveryDashboardRoute(t *testing.T) {
	e := &env{webtest.WhEnv(t, testkit.Config(t))}
	ctx := context.Background()
	A := e.azWorkspace("A", "1000001") // A's user: the installation's first, an owner and installation admin
	h, err := auth.HashPassword("correct-horse")
	if err != nil {
		t.Fatal(err)
	}
	members := []*rmMember{{role: model.MemberOwner, email: A.email}}
	for _, r := range []model.MemberRole{model.MemberAdmin, model.MemberViewer} {
		email := string(r) + "-" + A.email
		u, err := e.App.Store.CreateMemberUser(ctx, A.ws.ID, email, "", h, model.UserRoleMember, r)
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, &rmMember{role: r, email: email})
		if r == model.MemberViewer {
			// The saved view the view routes name is the viewer's own: any member manages
			// their personal views (shared ones are the admins': conversation.ErrViewForbidden).
			sv := &store.SavedView{WorkspaceID: A.ws.ID, UserID: &u.ID, Name: "Viewer's view", Query: "outcome=unresolved"}
			if err := e.App.Store.CreateSavedView(ctx, sv); err != nil {
				t.Fatal(err)
			}
			A.view = sv.ID
		}
	}
	members = append(members, &rmMember{role: model.MemberAgent, email: "agent-" + A.email}) // azWorkspace's agent
	for _, m := range members {
		m.c = e.Client()
		e.Login(m.c, m.email, "correct-horse")
		m.csrf = e.CSRF(m.c, "/settings")
	}
	sort.Slice(members, func(i, j int) bool {
		return members[i].role.AtLeast(members[j].role) && members[i].role != members[j].role
	})

	specs := azRoutes()
	byName := map[string]routenames.Route{}
	for _, r := range routenames.All() {
		byName[r.Name] = r
	}
	type call struct {
		route routenames.Route
		spec  azRoute
		m     *rmMember
	}
	var later []call
	n := 0
	for _, er := range web.New(e.App).Echo().Routes() {
		r, ok := byName[er.Name]
		if !ok || er.Method == echo.RouteNotFound {
			continue
		}
		if r.Access == model.AccessPublic || r.Access == model.AccessAPIKey {
			continue // no member role: authz_test (public) and the API's scope tests
		}
		if r.Access != model.AccessInstallation && !r.Access.Role().Valid() {
			t.Errorf("route %s declares access %q, which is no role", r.Name, r.Access)
			continue
		}
		spec := specs[azKey(r.Method, r.Path)]
		path := azPath(t, r.Path, azParams(A, spec.owner))
		if spec.query != "" {
			path += "?" + spec.query
		}
		n++
		lowest := true
		for i := len(members) - 1; i >= 0; i-- { // viewer first
			m := members[i]
			allowed := rmAllowed(r, *m, m.role == model.MemberOwner)
			what := r.Method + " " + r.Path + " as " + string(m.role)
			if !allowed {
				before := e.azSnapshot(A.ws.ID)
				for _, htmx := range []bool{false, true} {
					b, hdr := rmBody(spec, A, m.csrf)
					if htmx {
						hdr = append(hdr, "HX-Request", "true")
					}
					if res := e.azDo(m.c, r.Method, path, b, hdr...); res.status != http.StatusForbidden {
						t.Errorf("%s (htmx %v): %d, want 403", what, htmx, res.status)
					}
				}
				azSameSnapshot(t, what+" (refused)", before, e.azSnapshot(A.ws.ID))
				continue
			}
			// A Test Chat reply is produced after its stream is left (a background write): it
			// joins the unsafe calls at the end.
			if azSafe(r.Method) && r.Name != routenames.TestChatReply {
				if res := e.azDo(m.c, r.Method, path, nil); res.status == http.StatusForbidden || res.status == http.StatusSeeOther || res.status >= 500 {
					t.Errorf("%s: %d, want it allowed: %.200s", what, res.status, res.body)
				}
			} else if lowest {
				later = append(later, call{r, spec, m})
			}
			lowest = false
		}
	}
	want := 0
	for _, r := range routenames.All() {
		if r.Access != model.AccessPublic && r.Access != model.AccessAPIKey {
			want++
		}
	}
	if n != want || n < 50 {
		t.Fatalf("%d dashboard routes were checked; the table has %d that ask for a role", n, want)
	}
	// The unsafe calls of the lowest allowed roles, destructive ones (and the ones that end
	// the caller's membership or session) last.
	rank := func(c call) int {
		switch c.route.Name {
		case routenames.SettingsMembersLeave:
			return 5
		case routenames.SettingsSessionsRevokeAll:
			return 4
		case routenames.SettingsMemberRole, routenames.SettingsMemberRemove: // the agent's
			return 3
		case routenames.AssistantDelete:
			return 2
		}
		if c.spec.destructive {
			return 1
		}
		return 0
	}
	sort.SliceStable(later, func(i, j int) bool { return rank(later[i]) < rank(later[j]) })
	for _, c := range later {
		path := azPath(t, c.route.Path, azParams(A, c.spec.owner))
		if c.spec.query != "" {
			path += "?" + c.spec.query
		}
		if c.route.Name == routenames.SettingsMembersLeave { // after "log out everywhere"
			e.Login(c.m.c, c.m.email, "correct-horse")
			c.m.csrf = e.CSRF(c.m.c, "/settings")
		}
		b, hdr := rmBody(c.spec, A, c.m.csrf)
		res := e.azDo(c.m.c, c.route.Method, path, b, hdr...)
		if res.status == http.StatusForbidden || res.status == http.StatusUnauthorized || res.status >= 500 ||
			(res.status == http.StatusSeeOther && strings.HasPrefix(res.header.Get("Location"), "/login") && c.route.Name != routenames.SettingsSessionsRevokeAll && c.route.Name != routenames.SettingsMembersLeave) {
			t.Errorf("%s %s as %s (the lowest role it allows): %d %q %.2000s", c.route.Method, c.route.Path, c.m.role, res.status, res.header.Get("Location"), res.body)
		}
	}
}

func rmBody(spec azRoute, w *azWS, csrf string) (io.Reader, []string) {
	v := url.Values{}
	if spec.form != nil {
		v = spec.form(w)
	}
	v.Set("_csrf", csrf)
	return azForm(v)
}
