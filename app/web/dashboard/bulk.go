package dashboard

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/pages"
	"github.com/parleyhq/parley/workers"
)

func (s *Handler) jobs() conversation.BulkJobs { return conversation.BulkJobs{Redis: s.Redis} }

// bulkDelete starts a background deletion of every conversation matching the filters in the
// URL. It refuses an empty filter: deleting everything takes a filter that says so (a type).
func (s *Handler) bulkDelete(c echo.Context) error {
	ctx := c.Request().Context()
	ws := current(c).Workspace.ID
	now := time.Now()
	q, f, err := conversation.ParseQueryFor(c.QueryParams(), now, current(c).User.ID)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "Bad filter: "+err.Error())
	}
	if !q.Active() {
		return echo.NewHTTPError(http.StatusBadRequest, "Choose at least one filter before deleting in bulk.")
	}
	f.Sort = ""
	total, err := s.Store.CountMatching(ctx, ws, f)
	if err != nil {
		return err
	}
	id := conversation.NewJobID()
	// Recorded when asked for, with its filter and how many matched (the job runs later, as
	// the system).
	entry := audit.New(ctx, ws, audit.ConversationsDelete, audit.Target{Type: "bulk_delete", ID: id},
		map[string]any{"filter": q.Values().Encode(), "matching": total})
	if err := s.Audit.Record(ctx, entry); err != nil {
		return err
	}
	if err := s.jobs().Start(ctx, ws, id, total); err != nil {
		return err
	}
	task, err := s.Tasks.DeleteMatching(workers.DeleteMatchingPayload{WorkspaceID: ws, JobID: id, Query: q.Absolute(current(c).User.ID).Encode(), AskedAt: now})
	if err != nil {
		return err
	}
	if err := s.Tasks.Enqueue(ctx, task); err != nil {
		return err
	}
	j := pages.BulkJobView{ID: id, State: "queued", Total: total}
	if htmx.IsFragment(c) {
		return htmx.Render(c, http.StatusAccepted, pages.BulkStatus(j))
	}
	return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.ConversationsBulkDeleteStatus, id))
}

func (s *Handler) bulkDeleteStatus(c echo.Context) error {
	j, err := s.jobs().Get(c.Request().Context(), current(c).Workspace.ID, c.Param("job"))
	if errors.Is(err, conversation.ErrNoJob) {
		return echo.NewHTTPError(http.StatusNotFound, "No such deletion (they are kept for a day).")
	}
	if err != nil {
		return err
	}
	v := pages.BulkJobView{ID: j.ID, State: j.State, Deleted: j.Deleted, Total: j.Total, Error: j.Error}
	if htmx.IsFragment(c) {
		return htmx.Render(c, http.StatusOK, pages.BulkStatus(v))
	}
	p, err := s.page(c, "Bulk deletion", "conversations")
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.BulkPage(p, v))
}
