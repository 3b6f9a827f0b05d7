package dashboard

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/views/pages"
)

// WhatsApp templates in Settings: the list per WhatsApp number, adding and deleting one,
// the number's WhatsApp Business Account id and the import of its approved templates from
// Meta. The rules and the Graph calls are app/whatsapp's (ValidateTemplate, Service's
// CreateTemplate, SaveWABA and ImportTemplates); these handlers bind, call and render.

// templatesData is the Settings section: every assistant connected to a WhatsApp number with
// its templates.
func (s *Handler) templatesData(c echo.Context) (pages.TemplatesData, error) {
	ctx := c.Request().Context()
	ws := current(c).Workspace.ID
	d := pages.TemplatesData{CSRF: csrfToken(c), Errs: map[string]string{}}
	as, err := s.Store.Assistants(ctx, ws)
	if err != nil {
		return d, err
	}
	ts, err := s.Store.WhatsAppTemplates(ctx, ws, 0)
	if err != nil {
		return d, err
	}
	by := map[int64][]pages.TemplateRow{}
	for _, t := range ts {
		by[t.AssistantID] = append(by[t.AssistantID], pages.TemplateRow{ID: t.ID, Name: t.Name, Language: t.Language, Category: t.Category, Body: t.Body, Params: t.Params, Source: t.Source})
	}
	for i := range as {
		a := &as[i]
		if a.PhoneNumberID() == "" {
			continue
		}
		d.Numbers = append(d.Numbers, pages.WANumber{
			AssistantID: a.ID, Name: a.Name, PhoneNumberID: a.PhoneNumberID(), WABAID: whatsapp.WABAID(a),
			HasToken: a.WhatsAppAccessTokenEnc != "", Templates: by[a.ID],
		})
	}
	if len(d.Numbers) > 0 {
		d.Form.AssistantID, d.Form.Category = d.Numbers[0].AssistantID, "UTILITY"
	}
	return d, nil
}

func (s *Handler) waTemplateCreate(c echo.Context) error {
	f := pages.TemplateForm{
		Name: strings.TrimSpace(c.FormValue("name")), Language: strings.TrimSpace(c.FormValue("language")),
		Category: strings.ToUpper(strings.TrimSpace(c.FormValue("category"))), Body: strings.TrimSpace(c.FormValue("body")),
		Params: strings.TrimSpace(c.FormValue("params")),
	}
	f.AssistantID, _ = strconv.ParseInt(c.FormValue("assistant_id"), 10, 64)
	draft := whatsapp.TemplateDraft{AssistantID: f.AssistantID, Name: f.Name, Language: f.Language, Category: f.Category, Body: f.Body, Params: f.Params}
	errs, err := s.WhatsApp.CreateTemplate(c.Request().Context(), current(c).Workspace.ID, &draft)
	if err != nil {
		return err
	}
	f.Params = draft.Params
	d, err := s.settingsData(c)
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		d.Templates.Form, d.Templates.Errs = f, errs
		return s.renderSettings(c, http.StatusUnprocessableEntity, d)
	}
	d.Templates.Notice = "Template " + f.Name + " (" + f.Language + ") added."
	return s.renderSettings(c, http.StatusOK, d)
}

func (s *Handler) waTemplateDelete(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such template.")
	}
	err = s.Store.DeleteWhatsAppTemplate(c.Request().Context(), current(c).Workspace.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such template.")
	}
	if err != nil {
		return err
	}
	if !htmx.IsFragment(c) {
		return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Settings)+"#wa-templates")
	}
	d, err := s.settingsData(c)
	if err != nil {
		return err
	}
	d.Templates.Notice = "Template deleted."
	return s.renderSettings(c, http.StatusOK, d)
}

// waWABASave stores (or clears) the WhatsApp Business Account id of a number.
func (s *Handler) waWABASave(c echo.Context) error {
	id, _ := strconv.ParseInt(c.FormValue("assistant_id"), 10, 64)
	a, bad, err := s.WhatsApp.SaveWABA(c.Request().Context(), current(c).Workspace.ID, id, c.FormValue("waba_id"))
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such WhatsApp number.")
	} else if err != nil {
		return err
	}
	var msg string
	if bad == "" {
		msg = "WhatsApp Business Account id saved."
	}
	return s.renderNumberNotice(c, a.ID, bad, msg)
}

// waTemplatesFetch imports the approved templates of a number's WhatsApp Business Account
// from Meta's Graph API.
func (s *Handler) waTemplatesFetch(c echo.Context) error {
	id, _ := strconv.ParseInt(c.FormValue("assistant_id"), 10, 64)
	a, msg, bad, err := s.WhatsApp.ImportTemplates(c.Request().Context(), current(c).Workspace.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such WhatsApp number.")
	} else if err != nil {
		return err
	}
	return s.renderNumberNotice(c, a.ID, bad, msg)
}

// renderNumberNotice renders Settings with an error or a notice beside one WhatsApp number's
// template section.
func (s *Handler) renderNumberNotice(c echo.Context, assistantID int64, bad, msg string) error {
	d, err := s.settingsData(c)
	if err != nil {
		return err
	}
	for i := range d.Templates.Numbers {
		if n := &d.Templates.Numbers[i]; n.AssistantID == assistantID {
			n.FetchErr, n.FetchNotice = bad, msg
		}
	}
	return s.renderSettings(c, http.StatusOK, d)
}
