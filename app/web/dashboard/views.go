package dashboard

import (
	"context"
	"errors"
	"github.com/parleyhq/parley/views/pages"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/layouts"
)

// navViews are the saved views of the navigation, with their bounded counts.
func (s *Handler) navViews(ctx context.Context, ws, userID int64) ([]layouts.NavView, error) {
	views, err := s.Conversations.Views(ctx, ws, userID)
	if err != nil {
		return nil, err
	}
	out := make([]layouts.NavView, len(views))
	for i, v := range views {
		out[i] = layouts.NavView{ID: v.ID, Name: v.Name, Query: v.Query, Count: v.Label, Shared: v.Shared()}
	}
	return out, nil
}

// viewsAdmin reports whether the request's member may manage shared views.
func viewsAdmin(c echo.Context) bool { return current(c).Role.AtLeast(model.MemberAdmin) }

// viewError answers a saved view's refusal: a field's error, a role's, a view that is not the
// member's.
func viewError(err error) error {
	var fe *conversation.FieldError
	switch {
	case errors.As(err, &fe):
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "The view's "+fe.Param+" "+fe.Msg+".")
	case errors.Is(err, conversation.ErrViewForbidden):
		return echo.NewHTTPError(http.StatusForbidden, err.Error()+".")
	case errors.Is(err, conversation.ErrBuiltinView):
		return echo.NewHTTPError(http.StatusConflict, err.Error()+"; rename it instead.")
	case errors.Is(err, store.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, "No such view.")
	}
	return err
}

// viewCreate saves the list's query (the form's query field) as a view, and opens it.
func (s *Handler) viewCreate(c echo.Context) error {
	cur := current(c)
	v, err := s.Conversations.SaveView(c.Request().Context(), cur.Workspace.ID, cur.User.ID, viewsAdmin(c),
		c.FormValue("name"), c.FormValue("query"), c.FormValue("shared") == "1")
	if err != nil {
		return viewError(err)
	}
	return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Conversations)+"?"+v.Query)
}

func viewID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "No such view.")
	}
	return id, nil
}

// viewRename renames a view the member may change.
func (s *Handler) viewRename(c echo.Context) error {
	id, err := viewID(c)
	if err != nil {
		return err
	}
	cur := current(c)
	if err := s.Conversations.RenameView(c.Request().Context(), cur.Workspace.ID, cur.User.ID, viewsAdmin(c), id, c.FormValue("name")); err != nil {
		return viewError(err)
	}
	return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Conversations))
}

// viewDelete deletes a view the member may change.
func (s *Handler) viewDelete(c echo.Context) error {
	id, err := viewID(c)
	if err != nil {
		return err
	}
	cur := current(c)
	if err := s.Conversations.DeleteView(c.Request().Context(), cur.Workspace.ID, cur.User.ID, viewsAdmin(c), id); err != nil {
		return viewError(err)
	}
	return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Conversations))
}

// judgementControls fills the list page's controls of issue 14: a control per filterable
// custom evaluator of the workspace (with the value of the URL), and the saved views to
// manage.
func (s *Handler) judgementControls(c echo.Context, d *pages.ConvList) error {
	ctx := c.Request().Context()
	cur := current(c)
	q, _, _ := conversation.ParseQueryFor(c.QueryParams(), time.Now(), cur.User.ID)
	evs, err := s.Store.WorkspaceEvaluators(ctx, cur.Workspace.ID)
	if err != nil {
		return err
	}
	for _, e := range conversation.FilterableEvaluators(evs) {
		ctl := pages.EvalControl{Name: e.Name, Options: e.Options}
		for _, f := range q.Evals {
			if f.Name == e.Name {
				ctl.Value = f.Value
			}
		}
		d.Filters.Evals = append(d.Filters.Evals, ctl)
	}
	views, err := s.Conversations.Views(ctx, cur.Workspace.ID, cur.User.ID)
	if err != nil {
		return err
	}
	d.CanShare = viewsAdmin(c)
	for _, v := range views {
		d.Views = append(d.Views, pages.ViewItem{ID: v.ID, Name: v.Name, Count: v.Label, Shared: v.Shared(),
			Editable: !v.Shared() || d.CanShare, Builtin: v.Builtin != ""})
	}
	return nil
}
