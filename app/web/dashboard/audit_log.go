package dashboard

import (
	"encoding/csv"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/pages"
)

// auditPage is how many entries a page of the audit log shows.
const auditPage = 50

// auditFilter reads the page's filter (?action=&actor=) and its canonical query string.
func auditFilter(c echo.Context) (audit.Filter, url.Values) {
	f := audit.Filter{Action: c.QueryParam("action"), Actor: c.QueryParam("actor")}
	v := url.Values{}
	if f.Action != "" {
		v.Set("action", f.Action)
	}
	if f.Actor != "" {
		v.Set("actor", f.Actor)
	}
	return f, v
}

func auditRow(e *store.AuditEntry) pages.AuditRow {
	target := e.TargetType
	if e.TargetID != "" {
		target += " " + e.TargetID
	}
	return pages.AuditRow{ID: e.ID, At: e.At, ActorType: e.ActorType, ActorName: e.ActorName,
		Action: e.Action, ActionLabel: audit.Label(e.Action), Target: target, Details: e.Details}
}

// auditLogPage (the workspace's admins: the route table's access) shows the workspace's audit log, newest first, filtered by action and actor;
// "Load more" appends the next page (?cursor=, the rows alone for htmx).
func (s *Handler) auditLogPage(c echo.Context) error {
	ctx, ws := c.Request().Context(), current(c).Workspace.ID
	f, v := auditFilter(c)
	d := pages.AuditData{Action: f.Action, Actor: f.Actor, Query: v.Encode()}
	cursor := c.QueryParam("cursor")
	rows, next, err := s.Audit.List(ctx, ws, f, cursor, auditPage)
	if errors.Is(err, store.ErrBadCursor) {
		d.Error = "This page link is out of date; showing the newest entries."
		cursor = ""
		rows, next, err = s.Audit.List(ctx, ws, f, "", auditPage)
	}
	if err != nil {
		return err
	}
	for i := range rows {
		d.Rows = append(d.Rows, auditRow(&rows[i]))
	}
	if next != "" {
		mv := url.Values{}
		for k, vs := range v {
			mv[k] = vs
		}
		mv.Set("cursor", next)
		d.MoreURL = routenames.URL(routenames.SettingsAuditLog) + "?" + mv.Encode()
		mv.Set("rows", "1")
		d.MoreHXURL = routenames.URL(routenames.SettingsAuditLog) + "?" + mv.Encode()
	}
	if htmx.IsFragment(c) {
		if c.QueryParam("rows") == "1" && cursor != "" {
			return htmx.Render(c, http.StatusOK, pages.AuditRows(d.Rows, d.MoreURL, d.MoreHXURL))
		}
		c.Response().Header().Set("HX-Push-Url", routenames.URL(routenames.SettingsAuditLog)+queryPrefix(d.Query))
		return htmx.Render(c, http.StatusOK, pages.AuditResults(d))
	}
	for _, a := range audit.Actions {
		d.Actions = append(d.Actions, pages.AuditChoice{Value: string(a.Action), Label: a.Label})
	}
	actors, err := s.Audit.Actors(ctx, ws)
	if err != nil {
		return err
	}
	for _, a := range actors {
		d.Actors = append(d.Actors, pages.AuditChoice{Value: a.Key, Label: a.Name + " (" + a.Key + ")"})
	}
	p, err := s.page(c, "Audit log", "settings")
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.AuditLogPage(p, d))
}

var auditCSVHeader = []string{"id", "at", "actor_type", "actor_id", "actor_name", "action", "target_type", "target_id", "details"}

// auditLogCSV streams the entries matching the page's filter as CSV, newest first. The export
// is itself recorded.
func (s *Handler) auditLogCSV(c echo.Context) error {
	ctx, ws := c.Request().Context(), current(c).Workspace.ID
	f, v := auditFilter(c)
	if err := s.recordExport(c, audit.AuditLogExport, audit.Target{}, map[string]any{"format": "csv", "filter": v.Encode()}); err != nil {
		return err
	}
	attachment(c, "text/csv; charset=utf-8", "audit-log-"+time.Now().UTC().Format("20060102-150405")+".csv")
	res := c.Response()
	res.WriteHeader(http.StatusOK)
	w := csv.NewWriter(res)
	if err := w.Write(auditCSVHeader); err != nil {
		return nil
	}
	n := 0
	err := s.Audit.Each(ctx, ws, f, func(e *store.AuditEntry) error {
		n++
		return w.Write([]string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339Nano), e.ActorType, model.CSVCell(e.ActorID),
			model.CSVCell(e.ActorName), model.CSVCell(e.Action), model.CSVCell(e.TargetType), model.CSVCell(e.TargetID), model.CSVCell(e.Details)})
	})
	w.Flush()
	if err != nil && ctx.Err() == nil {
		s.Log.Error("audit log export failed midway", "err", err, "rows", n)
	}
	return nil
}
