package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/views"
	"github.com/parleyhq/parley/workers"
)

func (s *Server) jobs() conversation.BulkJobs { return conversation.BulkJobs{Redis: s.Redis} }

// bulkDelete starts a background deletion of every conversation matching the filters in the
// URL. It refuses an empty filter: deleting everything takes a filter that says so (a type).
func (s *Server) bulkDelete(c echo.Context) error {
	ctx := c.Request().Context()
	ws := current(c).Workspace.ID
	now := time.Now()
	q, f, err := conversation.ParseQuery(c.QueryParams(), now)
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
	if err := s.jobs().Start(ctx, ws, id, total); err != nil {
		return err
	}
	task, err := workers.NewDeleteMatchingTask(workers.DeleteMatchingPayload{WorkspaceID: ws, JobID: id, Query: q.Values().Encode(), AskedAt: now})
	if err != nil {
		return err
	}
	if err := workers.Enqueue(ctx, s.Queue, task); err != nil {
		return err
	}
	j := views.BulkJobView{ID: id, State: "queued", Total: total}
	if isFragment(c) {
		return render(c, http.StatusAccepted, views.BulkStatus(j))
	}
	return c.Redirect(http.StatusSeeOther, "/conversations/bulk-delete/"+id)
}

func (s *Server) bulkDeleteStatus(c echo.Context) error {
	j, err := s.jobs().Get(c.Request().Context(), current(c).Workspace.ID, c.Param("job"))
	if errors.Is(err, conversation.ErrNoJob) {
		return echo.NewHTTPError(http.StatusNotFound, "No such deletion (they are kept for a day).")
	}
	if err != nil {
		return err
	}
	v := views.BulkJobView{ID: j.ID, State: j.State, Deleted: j.Deleted, Total: j.Total, Error: j.Error}
	if isFragment(c) {
		return render(c, http.StatusOK, views.BulkStatus(v))
	}
	p, err := s.page(c, "Bulk deletion", "conversations")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.BulkPage(p, v))
}
