package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/usage"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/app/workspace"
	"github.com/parleyhq/parley/views/pages"
)

// settingsData fills the Settings page: the workspace's settings for its admins, and for
// everyone their own sessions and the workspace they may leave.
func (s *Handler) settingsData(c echo.Context) (pages.SettingsData, error) {
	cur := current(c)
	d := pages.SettingsData{BaseURL: s.Config.BaseURL, Retention: map[string]string{}, RetentionErrs: map[string]string{},
		Admin: cur.Role.AtLeast(model.MemberAdmin), WorkspaceName: cur.Workspace.Name, Role: cur.Role,
		Scopes: model.Scopes, ScopeVal: model.DefaultScope}
	if err := s.sessionsData(c, &d); err != nil { // auth_sessions.go
		return d, err
	}
	if cur.Role == model.MemberOwner {
		orphans, err := s.Team.Orphans(c.Request().Context(), cur.Workspace.ID)
		if err != nil {
			return d, err
		}
		d.Owner = true
		for _, m := range orphans {
			d.Orphans = append(d.Orphans, m.Email)
		}
	}
	if !d.Admin {
		return d, nil
	}
	keys, err := s.Store.APIKeys(c.Request().Context(), cur.Workspace.ID)
	if err != nil {
		return pages.SettingsData{}, err
	}
	raw, err := s.Store.WorkspaceSettings(c.Request().Context(), cur.Workspace.ID)
	if err != nil {
		return d, err
	}
	if err := s.pricesData(c, &d, raw); err != nil {
		return d, err
	}
	if d.Templates, err = s.templatesData(c); err != nil { // whatsapp_ui.go
		return d, err
	}
	st := workspace.Decode(raw)
	for typ, days := range st.RetentionDays {
		if days > 0 {
			d.Retention[typ] = strconv.Itoa(days)
		}
	}
	for _, k := range keys {
		creator := k.CreatorName
		if creator == "" {
			creator = k.CreatorEmail
		}
		d.Keys = append(d.Keys, pages.APIKeyRow{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scope: k.Scope, Creator: creator,
			CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt})
	}
	return d, nil
}

func (s *Handler) renderSettings(c echo.Context, status int, d pages.SettingsData) error {
	if htmx.IsFragment(c) {
		return htmx.Render(c, status, pages.SettingsBody(d))
	}
	p, err := s.page(c, "Settings", "settings")
	if err != nil {
		return err
	}
	return htmx.Render(c, status, pages.Settings(p, d))
}

func (s *Handler) settingsPage(c echo.Context) error {
	d, err := s.settingsData(c)
	if err != nil {
		return err
	}
	return s.renderSettings(c, http.StatusOK, d)
}

// apiKeyCreate creates a key of the scope chosen and shows it once.
func (s *Handler) apiKeyCreate(c echo.Context) error {
	name := strings.TrimSpace(c.FormValue("name"))
	rawScope := c.FormValue("scope")
	scope, scopeErr := model.ParseScope(rawScope) // a form without the field: the default
	cur := current(c)
	if badName := name == "" || len(name) > 100; badName || scopeErr != nil {
		d, err := s.settingsData(c)
		if err != nil {
			return err
		}
		d.NameVal = name
		if scopeErr == nil {
			d.ScopeVal = scope
		}
		// 422 would not be swapped by htmx: a wrong name (which a person can type) is
		// re-rendered with 200, the error beside the field.
		status := http.StatusOK
		if badName {
			d.NameErr = "Give the key a name of 1 to 100 characters."
		}
		if scopeErr != nil {
			// Only a tampered form sends another scope than the select offers.
			d.ScopeErr, status = "Scope "+scopeErr.Error()+".", http.StatusUnprocessableEntity
		}
		return s.renderSettings(c, status, d)
	}
	key, prefix, hash, err := auth.NewAPIKey()
	if err != nil {
		return err
	}
	uid := cur.User.ID
	ctx := c.Request().Context()
	entry := audit.New(ctx, cur.Workspace.ID, audit.APIKeyCreate, audit.On(audit.TargetAPIKey, 0), map[string]any{"name": name, "prefix": prefix, "scope": scope})
	k := &store.APIKey{WorkspaceID: cur.Workspace.ID, Name: name, Prefix: prefix, KeyHash: hash, Scope: scope, CreatedBy: &uid}
	if err := s.Store.InsertAPIKey(ctx, k, entry); err != nil {
		return err
	}
	d, err := s.settingsData(c)
	if err != nil {
		return err
	}
	d.NewKey = key
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.renderSettings(c, http.StatusOK, d)
}

func (s *Handler) apiKeyRevoke(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such API key.")
	}
	ctx, ws := c.Request().Context(), current(c).Workspace.ID
	err = s.Store.RevokeAPIKey(ctx, ws, id, audit.New(ctx, ws, audit.APIKeyRevoke, audit.On(audit.TargetAPIKey, id), nil))
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such API key.")
	}
	if err != nil {
		return err
	}
	if !htmx.IsFragment(c) {
		return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Settings))
	}
	d, err := s.settingsData(c)
	if err != nil {
		return err
	}
	return s.renderSettings(c, http.StatusOK, d)
}

// retentionSave validates and stores the retention per type; nothing is saved when any field
// is wrong.
func (s *Handler) retentionSave(c echo.Context) error {
	ctx := c.Request().Context()
	ws := current(c).Workspace.ID
	d, err := s.settingsData(c)
	if err != nil {
		return err
	}
	ret := conversation.Retention{}
	for _, ti := range conversation.Types {
		v := strings.TrimSpace(c.FormValue(ti.Key))
		d.Retention[ti.Key] = v
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > conversation.MaxRetentionDays {
			d.RetentionErrs[ti.Key] = fmt.Sprintf("Enter a number of days from 1 to %d, or leave empty.", conversation.MaxRetentionDays)
			continue
		}
		ret[ti.Key] = n
	}
	if len(d.RetentionErrs) > 0 {
		return s.renderSettings(c, http.StatusOK, d)
	}
	entry := audit.New(ctx, ws, audit.RetentionUpdate, audit.Target{Type: audit.TargetSettings, ID: "retention"}, nil)
	if _, err := s.Workspace.Modify(ctx, ws, func(st *workspace.Settings) error {
		audit.SetDetails(entry, map[string]any{"before": st.RetentionDays, "after": ret})
		st.RetentionDays = ret
		return nil
	}, entry); err != nil {
		return err
	}
	if !htmx.IsFragment(c) {
		return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Settings))
	}
	d.RetentionSaved = true
	return s.renderSettings(c, http.StatusOK, d)
}

// pricesData fills the prices section: the workspace's effective table, its own entries and
// the models that had no price lately.
func (s *Handler) pricesData(c echo.Context, d *pages.SettingsData, raw string) error {
	st := workspace.Decode(raw)
	own := st.Prices
	if err := st.PricesErr(); err != nil {
		d.PricesErr = "The stored price entries are invalid: " + err.Error()
	}
	if len(own) > 0 {
		b, _ := json.MarshalIndent(own, "", "  ")
		d.PricesJSON = string(b)
	}
	table, _ := workspace.Prices(s.Chat.Prices, raw) // an error leaves the defaults, and is shown above
	for _, p := range table.Entries() {
		cached := p.CachedInputPer1M
		if cached == "" {
			cached = p.InputPer1M
		}
		d.Prices = append(d.Prices, pages.PriceRow{Match: p.Match, Input: p.InputPer1M, Cached: cached, Output: p.OutputPer1M, Source: p.Source, Note: p.Note, Free: p.Free})
	}
	var err error
	d.Unpriced, err = s.Store.UnpricedModels(c.Request().Context(), current(c).Workspace.ID, time.Now().AddDate(0, 0, -30))
	return err
}

// pricesSave validates and stores the workspace's price entries (all or nothing).
func (s *Handler) pricesSave(c echo.Context) error {
	ctx := c.Request().Context()
	ws := current(c).Workspace.ID
	text := strings.TrimSpace(c.FormValue("prices"))
	var prices []usage.Price
	var perr error
	if text != "" {
		prices, perr = usage.ParsePrices([]byte(text))
		if perr == nil {
			_, perr = s.Chat.Prices.With(usage.SourceSettings, prices)
		}
	}
	if perr != nil {
		d, err := s.settingsData(c)
		if err != nil {
			return err
		}
		d.PricesJSON, d.PricesErr = text, "Not saved: "+perr.Error()
		status := http.StatusOK
		if !htmx.IsFragment(c) {
			status = http.StatusBadRequest
		}
		return s.renderSettings(c, status, d)
	}
	entry := audit.New(ctx, ws, audit.PricesUpdate, audit.Target{Type: audit.TargetSettings, ID: "prices"}, nil)
	if _, err := s.Workspace.Modify(ctx, ws, func(st *workspace.Settings) error {
		audit.SetDetails(entry, map[string]any{"before": st.Prices, "after": prices})
		st.SetPrices(prices)
		return nil
	}, entry); err != nil {
		return err
	}
	if !htmx.IsFragment(c) {
		return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Settings))
	}
	d, err := s.settingsData(c)
	if err != nil {
		return err
	}
	d.PricesSaved = true
	return s.renderSettings(c, http.StatusOK, d)
}
