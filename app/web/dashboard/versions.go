package dashboard

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/pages"
)

// Assistant versions on the dashboard (issue 15): the edit page edits the draft, the versions
// page lists every version, publishes (or rolls back to) one and compares two.

// canPublish reports a member whose role may publish (the role that edits assistants).
func canPublish(c echo.Context) bool {
	return current(c).Role.AtLeast(routenames.Lookup(routenames.AssistantPublish).Access.Role())
}

// versionState is where row's versions stand, for its edit page.
func versionState(c echo.Context, row *store.Assistant) pages.AssistantVersionState {
	return pages.AssistantVersionState{Published: row.PublishedVersion, Draft: row.DraftVersion, PublishGate: row.PublishGate,
		CanPublish: canPublish(c)}
}

// draftSettings are row's settings with the behaviour edits start from: the draft's, or the
// published one's when there is no draft.
func (s *Handler) draftSettings(ctx context.Context, row *store.Assistant) (model.AssistantSettings, error) {
	set := row.AsModel().AssistantSettings
	if row.DraftVersion == 0 {
		return set, nil
	}
	v, err := s.Store.AssistantVersionByNumber(ctx, row.WorkspaceID, row.ID, row.DraftVersion)
	if err != nil {
		return set, err
	}
	set.SetBehaviour(v.Behaviour())
	return set, nil
}

// publishError is what a member is told of a publish that did not happen (and its status),
// or ok=false for an error that is not the member's to read.
func publishError(err error) (msg string, status int, ok bool) {
	if reason, refused := assistants.IsRefusal(err); refused {
		return "Not published: " + reason, http.StatusConflict, true
	}
	switch {
	case errors.Is(err, store.ErrNoDraft):
		return "Not published: the assistant has no draft.", http.StatusNotFound, true
	case errors.Is(err, assistants.ErrNoVersion):
		return "Not published: the assistant has no such version.", http.StatusNotFound, true
	}
	return "", 0, false
}

// assistantPublish publishes the form's version ("draft" or a number): back to the edit page
// (back=edit) or the versions page, saying so; a refusal (the publish gate) is shown there
// with 409.
func (s *Handler) assistantPublish(c echo.Context) error {
	id, ok := assistantID(c)
	if !ok {
		return errAssistantNotFound()
	}
	ctx, ws := c.Request().Context(), current(c).Workspace.ID
	ref, err := model.ParseVersionRef(c.FormValue("version"))
	if err != nil {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "version: "+err.Error())
	}
	toEdit := c.FormValue("back") == "edit"
	v, _, err := s.Versions.Publish(ctx, ws, id, ref)
	if errors.Is(err, store.ErrNotFound) {
		return errAssistantNotFound()
	}
	if msg, status, ok := publishError(err); ok {
		if toEdit {
			row, err := s.Store.AssistantByID(ctx, ws, id)
			if err != nil {
				return err
			}
			f, err := s.editForm(c, row)
			if err != nil {
				return err
			}
			f.Version.Error = msg
			return s.renderAssistant(c, status, f)
		}
		return s.renderVersions(c, status, id, nil, "", msg)
	}
	if err != nil {
		return err
	}
	q := "?published=" + strconv.Itoa(v.Number)
	if toEdit {
		return c.Redirect(http.StatusSeeOther, pages.AssistantURL(id)+q)
	}
	return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.AssistantVersions, id)+q)
}

// assistantVersions is the versions page.
func (s *Handler) assistantVersions(c echo.Context) error {
	id, ok := assistantID(c)
	if !ok {
		return errAssistantNotFound()
	}
	notice := ""
	if n, err := strconv.Atoi(c.QueryParam("published")); err == nil && n > 0 {
		notice = "Published v" + strconv.Itoa(n) + ": it answers customers now."
	}
	return s.renderVersions(c, http.StatusOK, id, nil, notice, "")
}

// assistantVersionsCompare is the versions page comparing versions a and b (numbers, or
// "draft"): 422 for a value that names no version, 404 for a version the assistant lacks.
func (s *Handler) assistantVersionsCompare(c echo.Context) error {
	id, ok := assistantID(c)
	if !ok {
		return errAssistantNotFound()
	}
	ctx, ws := c.Request().Context(), current(c).Workspace.ID
	row, err := s.Store.AssistantByID(ctx, ws, id)
	if errors.Is(err, store.ErrNotFound) {
		return errAssistantNotFound()
	}
	if err != nil {
		return err
	}
	var vs [2]*store.AssistantVersion
	for i, p := range []string{"a", "b"} {
		ref, err := model.ParseVersionRef(c.QueryParam(p))
		if err != nil || c.QueryParam(p) == "" {
			return s.renderVersions(c, http.StatusUnprocessableEntity, id, nil, "", p+": "+model.ErrVersionRef.Error()+".")
		}
		v, err := s.Store.ResolveVersion(ctx, row, ref)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrNoDraft) {
			return s.renderVersions(c, http.StatusNotFound, id, nil, "", "The assistant has no version "+ref.String()+".")
		}
		if err != nil {
			return err
		}
		vs[i] = v
	}
	cmp := versionCompareView(vs[0], vs[1])
	return s.renderVersions(c, http.StatusOK, id, &cmp, "", "")
}

var versionFieldLabels = map[string]string{"system_prompt": "System prompt", "first_message": "First message", "model": "Model",
	"temperature": "Temperature", "variables": "Variables", "evaluators": "Evaluators"}

// versionCompareView is versions a and b compared (assistants.Compare), for the page.
func versionCompareView(a, b *store.AssistantVersion) pages.VersionCompare {
	cmp := assistants.Compare(a.Behaviour(), b.Behaviour())
	out := pages.VersionCompare{A: a.Number, B: b.Number}
	for _, f := range cmp.Fields {
		out.Fields = append(out.Fields, pages.VersionField{Field: f.Field, Label: versionFieldLabels[f.Field], Old: f.Old, New: f.New, Changed: f.Changed})
	}
	for _, l := range cmp.PromptLines {
		out.PromptLines = append(out.PromptLines, pages.VersionDiffLine{Kind: l.Kind, Text: l.Text})
	}
	items := func(in []assistants.ItemChange) []pages.VersionItem {
		out := []pages.VersionItem{}
		for _, it := range in {
			out = append(out, pages.VersionItem{Name: it.Name, Kind: it.Kind, Old: it.Old, New: it.New})
		}
		return out
	}
	out.Variables, out.Evaluators = items(cmp.Variables), items(cmp.Evaluators)
	return out
}

func (s *Handler) renderVersions(c echo.Context, status int, id int64, cmp *pages.VersionCompare, notice, msg string) error {
	ctx, ws := c.Request().Context(), current(c).Workspace.ID
	row, err := s.Store.AssistantByID(ctx, ws, id)
	if errors.Is(err, store.ErrNotFound) {
		return errAssistantNotFound()
	}
	if err != nil {
		return err
	}
	vs, err := s.Versions.List(ctx, row)
	if err != nil {
		return err
	}
	d := pages.AssistantVersionsData{AssistantID: id, Name: row.Name, CSRF: csrfToken(c), CanPublish: canPublish(c),
		PublishGate: row.PublishGate, Compare: cmp, Notice: notice, Error: msg}
	for _, v := range vs {
		r := pages.VersionRow{Number: v.Number, CreatedBy: v.CreatedBy, CreatedAt: v.CreatedAt, Published: v.Published, Draft: v.Draft}
		if p := v.LastPublished; p != nil {
			at := p.PublishedAt
			r.PublishedBy, r.PublishedAt = p.PublishedBy, &at
		}
		d.Rows = append(d.Rows, r)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if htmx.IsFragment(c) {
		return htmx.Render(c, status, pages.AssistantVersionsBody(d))
	}
	p, err := s.page(c, "Versions of "+row.Name, "assistants")
	if err != nil {
		return err
	}
	return htmx.Render(c, status, pages.AssistantVersionsPage(p, d))
}

// testChatVersions fills the Test Chat start page's version select for assistant a: the
// draft (selected when there is one), the published version, then every other version.
func (s *Handler) testChatVersions(c echo.Context, d *pages.TestChatStart, a *store.Assistant) error {
	vs, err := s.Versions.List(c.Request().Context(), a)
	if err != nil {
		return err
	}
	d.Version = strconv.Itoa(a.PublishedVersion)
	for _, v := range vs {
		label := "v" + strconv.Itoa(v.Number)
		switch {
		case v.Draft:
			label += " (draft)"
			d.Version = strconv.Itoa(v.Number)
		case v.Published:
			label += " (published)"
		}
		d.Versions = append(d.Versions, pages.Option{Value: strconv.Itoa(v.Number), Label: label})
	}
	if q := c.FormValue("version"); q != "" {
		d.Version = q
	}
	return nil
}

// testChatVersion is assistant a answering with the version the Test Chat form chose
// ("draft" or a number; none: the draft when there is one, else the published version).
func (s *Handler) testChatVersion(c echo.Context, a *store.Assistant) (*store.Assistant, error) {
	raw := c.FormValue("version")
	ref := model.VersionRef{Number: a.PublishedVersion}
	if raw != "" || a.DraftVersion != 0 {
		var err error
		if ref, err = model.ParseVersionRef(raw); err != nil {
			return nil, echo.NewHTTPError(http.StatusUnprocessableEntity, "version: "+err.Error())
		}
	}
	out, err := s.Versions.Answering(c.Request().Context(), a, ref)
	if errors.Is(err, assistants.ErrNoVersion) || errors.Is(err, store.ErrNoDraft) {
		return nil, echo.NewHTTPError(http.StatusNotFound, "The assistant has no version "+ref.String()+".")
	}
	return out, err
}
