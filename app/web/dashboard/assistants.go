package dashboard

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/pages"
)

// defaultModel is the model a new assistant starts with: PARLEY_LLM_MODEL
// (assistants.NewSettings falls back to assistants.DefaultModel when it is empty).
func (s *Handler) defaultModel() string { return s.Config.LLMModel }

// widgetSnippet is the HTML a site pastes to load the widget of an assistant.
func (s *Handler) widgetSnippet(publicKey string) string {
	return `<script src="` + s.Config.BaseURL + `/static/widget.js" data-assistant="` + publicKey + `" async></script>`
}

func errAssistantNotFound() error {
	return echo.NewHTTPError(http.StatusNotFound, "No such assistant.")
}

// assistantID reads the {id} of the path; anything but a positive integer is an assistant
// that does not exist.
func assistantID(c echo.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	return id, err == nil && id > 0
}

// ---- list ----

func (s *Handler) assistantsList(c echo.Context) error {
	rows, err := s.Store.Assistants(c.Request().Context(), current(c).Workspace.ID)
	if err != nil {
		return err
	}
	d := pages.AssistantsData{Deleted: c.QueryParam("deleted") == "1"}
	for _, r := range rows {
		// A variables column that does not parse (never written by Parley) counts as none
		// here; the assistant's own page reports it.
		row := pages.AssistantListRow{ID: r.ID, Name: r.Name, Model: r.Model, Variables: len(r.Variables), PublicKey: r.PublicKey, CreatedAt: r.CreatedAt}
		if r.WhatsAppPhoneNumberID != nil {
			row.WhatsApp = *r.WhatsAppPhoneNumberID
			row.WhatsAppNumber = whatsAppNumberView(r.AsModel().WhatsApp)
		}
		d.Rows = append(d.Rows, row)
	}
	if htmx.IsFragment(c) {
		return htmx.Render(c, http.StatusOK, pages.AssistantsBody(d))
	}
	p, err := s.page(c, "Assistants", "assistants")
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.Assistants(p, d))
}

// ---- form <-> view ----

func rowKey() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "r" + hex.EncodeToString(b)
}

// assistantForm is the view of settings as stored (or as submitted, after validation).
func (s *Handler) assistantForm(c echo.Context, set model.AssistantSettings) pages.AssistantForm {
	f := pages.AssistantForm{
		CSRF: csrfToken(c), Heading: "New assistant",
		Name: set.Name, SystemPrompt: set.SystemPrompt, FirstMessage: set.FirstMessage, Model: set.Model,
		Temperature:    strconv.FormatFloat(set.Temperature, 'f', -1, 64),
		AllowedOrigins: strings.Join(set.AllowedOrigins, "\n"),
		Title:          set.Widget.Title, Color: set.Widget.Color, PhoneNumberID: set.WhatsAppPhoneNumberID,
		IdentityRequired: set.IdentityRequired,
		CSATWhatsApp:     set.CSATWhatsApp,
		Errs:             map[string]string{},
		Version:          pages.AssistantVersionState{PublishGate: set.PublishGate},
	}
	names := make([]string, 0, len(set.Variables))
	for i, v := range set.Variables {
		f.Variables = append(f.Variables, pages.AssistantVariableRow{
			Key: rowKey(), Name: v.Name, Description: v.Description, Type: v.Type, Options: strings.Join(v.Options, ", "),
			Required: v.Required, Types: assistants.VariableTypes, Index: i, Errs: map[string]string{},
		})
		if v.Name != "" && !slices.Contains(names, v.Name) {
			names = append(names, v.Name)
		}
	}
	for i, p := range set.PrechatFields {
		f.Prechat = append(f.Prechat, prechatRow(p, i, names))
	}
	f.Evaluators = evaluatorRows(set.Evaluators) // evaluate.go
	return f
}

func prechatRow(p model.PrechatField, index int, names []string) pages.AssistantPrechatRow {
	vars := names
	if p.Variable != "" && !slices.Contains(vars, p.Variable) {
		vars = append(slices.Clone(vars), p.Variable)
	}
	return pages.AssistantPrechatRow{
		Key: rowKey(), Name: p.Name, Label: p.Label, Type: p.Type, Variable: p.Variable, Required: p.Required,
		Types: assistants.PrechatTypes, Variables: vars, Index: index, Errs: map[string]string{},
	}
}

// withErrors puts each error beside its field: rows get their own, the allowed origins
// (one textarea) get all of theirs.
func withErrors(f *pages.AssistantForm, es assistants.Errors) {
	for _, e := range es {
		field := e.Field
		if rest, ok := strings.CutPrefix(field, "variables["); ok {
			if i, sub, ok := indexField(rest); ok && i < len(f.Variables) {
				if f.Variables[i].Errs[sub] == "" {
					f.Variables[i].Errs[sub] = e.Msg
				}
				continue
			}
		}
		if rest, ok := strings.CutPrefix(field, "prechat_fields["); ok {
			if i, sub, ok := indexField(rest); ok && i < len(f.Prechat) {
				if f.Prechat[i].Errs[sub] == "" {
					f.Prechat[i].Errs[sub] = e.Msg
				}
				continue
			}
		}
		if rest, ok := strings.CutPrefix(field, "evaluators["); ok {
			if i, sub, ok := indexField(rest); ok && i < len(f.Evaluators) {
				if f.Evaluators[i].Errs[sub] == "" {
					f.Evaluators[i].Errs[sub] = e.Msg
				}
				continue
			}
		}
		if strings.HasPrefix(field, "allowed_origins[") {
			field = "allowed_origins"
		}
		if prev := f.Errs[field]; prev != "" {
			if field == "allowed_origins" {
				f.Errs[field] = prev + "; " + e.Msg
			}
			continue
		}
		f.Errs[field] = e.Msg
	}
}

// indexField splits "2].type" into 2 and "type".
func indexField(rest string) (int, string, bool) {
	n, sub, ok := strings.Cut(rest, "].")
	if !ok {
		return 0, "", false
	}
	i, err := strconv.Atoi(n)
	return i, sub, err == nil && i >= 0
}

// submitted is a parsed dashboard form.
type submitted struct {
	upd         assistants.Update
	remove      bool   // "remove WhatsApp connection"
	temperature string // as typed
	origins     string // as typed
	errs        assistants.Errors
	publish     bool // "Save and publish" (issue 15)
}

// parseAssistantForm reads the dashboard form. Variable and pre-chat rows are parallel lists
// tied by a per-row key (an unchecked checkbox sends nothing); rows left entirely empty are
// dropped.
func parseAssistantForm(c echo.Context) (*submitted, error) {
	form, err := c.FormParams()
	if err != nil {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	sub := &submitted{temperature: strings.TrimSpace(form.Get("temperature")), origins: form.Get("allowed_origins")}
	u := &sub.upd
	u.Name, u.SystemPrompt, u.FirstMessage, u.Model = form.Get("name"), form.Get("system_prompt"), form.Get("first_message"), form.Get("model")
	if sub.temperature == "" {
		u.Temperature = assistants.DefaultTemperature
		sub.temperature = strconv.FormatFloat(u.Temperature, 'f', -1, 64)
	} else if t, err := strconv.ParseFloat(strings.Replace(sub.temperature, ",", ".", 1), 64); err == nil {
		u.Temperature = t
	} else {
		sub.errs = append(sub.errs, assistants.FieldError{Field: "temperature", Msg: "must be a number from 0 to 2"})
	}

	at := func(vs []string, i int) string {
		if i < len(vs) {
			return vs[i]
		}
		return ""
	}
	u.Variables = []model.Variable{}
	varReq := form["var_required"]
	for i, key := range form["var_key"] {
		v := model.Variable{
			Name: at(form["var_name"], i), Description: at(form["var_description"], i), Type: at(form["var_type"], i),
			Options: assistants.ParseOptions(at(form["var_options"], i)), Required: key != "" && slices.Contains(varReq, key),
		}
		if strings.TrimSpace(v.Name) == "" && strings.TrimSpace(v.Description) == "" && len(v.Options) == 0 {
			continue
		}
		u.Variables = append(u.Variables, v)
	}
	u.PrechatFields = []model.PrechatField{}
	pfReq := form["pf_required"]
	for i, key := range form["pf_key"] {
		p := model.PrechatField{
			Name: at(form["pf_name"], i), Label: at(form["pf_label"], i), Type: at(form["pf_type"], i),
			Variable: at(form["pf_variable"], i), Required: key != "" && slices.Contains(pfReq, key),
		}
		if strings.TrimSpace(p.Name) == "" && strings.TrimSpace(p.Label) == "" {
			continue
		}
		u.PrechatFields = append(u.PrechatFields, p)
	}
	u.Evaluators = parseEvaluatorRows(form) // evaluate.go
	u.AllowedOrigins = assistants.ParseOriginLines(sub.origins)
	u.Widget = model.Widget{Title: form.Get("title"), Color: form.Get("color")}
	parseIdentity(form, u)
	u.CSATWhatsApp = form.Get("csat_whatsapp") != "" // an unchecked box sends nothing
	u.PublishGate = form.Get("publish_gate") != ""
	sub.publish = form.Get("publish") != ""
	sub.remove = form.Get("whatsapp_remove") != ""
	if !sub.remove {
		u.WhatsAppPhoneNumberID = form.Get("whatsapp_phone_number_id")
		u.AccessToken = form.Get("whatsapp_access_token")
	}
	return sub, nil
}

// invalidForm re-renders the submitted form with its errors beside the fields: 200 for htmx
// (which swaps only successful responses), 400 otherwise.
func (s *Handler) invalidForm(c echo.Context, id int64, row *store.Assistant, sub *submitted, es assistants.Errors) error {
	return s.refusedForm(c, http.StatusBadRequest, id, row, sub, es)
}

// refusedForm re-renders the submitted form with its errors beside the fields, answered with
// status (200 for htmx).
func (s *Handler) refusedForm(c echo.Context, status int, id int64, row *store.Assistant, sub *submitted, es assistants.Errors) error {
	f := s.assistantForm(c, sub.upd.AssistantSettings)
	f.Temperature, f.AllowedOrigins, f.RemoveWhatsApp = sub.temperature, sub.origins, sub.remove
	if sub.remove && row != nil && row.WhatsAppPhoneNumberID != nil {
		f.PhoneNumberID = *row.WhatsAppPhoneNumberID
	}
	if row != nil {
		f.ID, f.PublicKey, f.Snippet, f.TokenSet, f.CreatedAt = id, row.PublicKey, s.widgetSnippet(row.PublicKey), row.WhatsAppAccessTokenEnc != "", row.CreatedAt
		f.Heading = row.Name
		f.Identity = identityView(c, row)
		setWhatsAppNumber(&f, row)
		f.Version = versionState(c, row)
		f.Version.PublishGate = sub.upd.PublishGate
	}
	withErrors(&f, es)
	for _, e := range es {
		if e.Field == "publish" { // a refused publish (issue 15)
			f.Version.Error = "Nothing was saved, nor published: " + e.Msg
		}
	}
	if htmx.IsFragment(c) {
		status = http.StatusOK
	}
	return s.renderAssistant(c, status, f)
}

func (s *Handler) renderAssistant(c echo.Context, status int, f pages.AssistantForm) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	if htmx.IsFragment(c) {
		return htmx.Render(c, status, pages.AssistantBody(f))
	}
	title := f.Heading
	p, err := s.page(c, title, "assistants")
	if err != nil {
		return err
	}
	return htmx.Render(c, status, pages.AssistantPage(p, f))
}

// editForm is the form of a stored assistant.
func (s *Handler) editForm(c echo.Context, row *store.Assistant) (pages.AssistantForm, error) {
	a := row.AsModel()
	set, err := s.draftSettings(c.Request().Context(), row) // the form edits the draft
	if err != nil {
		return pages.AssistantForm{}, err
	}
	f := s.assistantForm(c, set)
	f.Version = versionState(c, row)
	f.ID, f.PublicKey, f.Snippet, f.TokenSet, f.CreatedAt = a.ID, a.PublicKey, s.widgetSnippet(a.PublicKey), row.WhatsAppAccessTokenEnc != "", a.CreatedAt
	f.Heading = a.Name
	f.Identity = identityView(c, row)
	setWhatsAppNumber(&f, row)
	return f, nil
}

// setWhatsAppNumber shows the stored WhatsApp number and what Meta confirmed of it.
func setWhatsAppNumber(f *pages.AssistantForm, row *store.Assistant) {
	f.StoredPhoneNumberID = row.PhoneNumberID()
	f.WhatsAppNumber = whatsAppNumberView(row.AsModel().WhatsApp)
}

func whatsAppNumberView(c model.WhatsAppConnection) pages.WhatsAppNumber {
	if !c.Verified() {
		return pages.WhatsAppNumber{}
	}
	return pages.WhatsAppNumber{Confirmed: true, DisplayPhoneNumber: c.Number.DisplayPhoneNumber, VerifiedName: c.Number.VerifiedName, ConfirmedAt: *c.VerifiedAt}
}

var errPhoneTaken = assistants.Errors{{Field: "whatsapp_phone_number_id", Msg: "is already connected to another assistant"}}

var errConnectionChanged = assistants.Errors{{Field: "whatsapp_access_token", Msg: assistants.ErrConnectionChanged.Error()}}

// notConfirmed re-renders the form when Meta did not confirm the WhatsApp number: 422 with
// Meta's reason beside the access token (502 when the Graph API could not be asked).
func (s *Handler) notConfirmed(c echo.Context, id int64, row *store.Assistant, sub *submitted, err error) error {
	var ce *assistants.ConfirmError
	if !errors.As(err, &ce) {
		return err
	}
	status := http.StatusUnprocessableEntity
	if ce.Unreachable {
		status = http.StatusBadGateway
	}
	return s.refusedForm(c, status, id, row, sub, ce.Errors())
}

// ---- new / create ----

func (s *Handler) assistantNew(c echo.Context) error {
	return s.renderAssistant(c, http.StatusOK, s.assistantForm(c, assistants.NewSettings(s.defaultModel())))
}

func (s *Handler) assistantCreate(c echo.Context) error {
	sub, err := parseAssistantForm(c)
	if err != nil {
		return err
	}
	es := append(sub.errs, sub.upd.Validate(false)...)
	if len(es) > 0 {
		return s.invalidForm(c, 0, nil, sub, es)
	}
	if err := sub.upd.ConfirmWhatsApp(c.Request().Context(), s.Keys, nil, s.WhatsApp.ConfirmNumber); err != nil {
		return s.notConfirmed(c, 0, nil, sub, err)
	}
	row := &store.Assistant{WorkspaceID: current(c).Workspace.ID}
	if err := sub.upd.Apply(row, s.Keys); err != nil {
		return err
	}
	entries := assistants.AuditEntries(c.Request().Context(), row.WorkspaceID, 0, audit.AssistantCreate)
	assistants.DescribeChange(entries, nil, row)
	err = s.Store.CreateAssistant(c.Request().Context(), row, entries...)
	if errors.Is(err, store.ErrPhoneNumberTaken) {
		return s.refusedForm(c, http.StatusConflict, 0, nil, sub, errPhoneTaken)
	}
	if err != nil {
		return err
	}
	to := pages.AssistantURL(row.ID)
	if !htmx.IsFragment(c) {
		// Without htmx the browser follows the redirect; the page still says "Saved".
		return c.Redirect(http.StatusSeeOther, to+"?saved=1")
	}
	f, err := s.editForm(c, row)
	if err != nil {
		return err
	}
	f.Saved = true
	c.Response().Header().Set("HX-Push-Url", to)
	return s.renderAssistant(c, http.StatusOK, f)
}

// ---- show / update ----

func (s *Handler) assistantShow(c echo.Context) error {
	id, ok := assistantID(c)
	if !ok {
		return errAssistantNotFound()
	}
	row, err := s.Store.AssistantByID(c.Request().Context(), current(c).Workspace.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errAssistantNotFound()
	}
	if err != nil {
		return err
	}
	f, err := s.editForm(c, row)
	if err != nil {
		return err
	}
	f.Saved = c.QueryParam("saved") == "1"
	if n, err := strconv.Atoi(c.QueryParam("published")); err == nil && n > 0 {
		f.Version.JustPublished = n
	}
	f.Identity.Rotated = c.QueryParam("rotated") == "1"
	return s.renderAssistant(c, http.StatusOK, f)
}

// assistantUpdate validates the whole form and writes it in one transaction; with any error
// nothing is written. The behaviour goes to the draft (a new version when it differs from
// the draft, or from the published version when there is none), or with "Save and publish"
// to the published version at once; the other settings are written to the assistant.
func (s *Handler) assistantUpdate(c echo.Context) error {
	id, ok := assistantID(c)
	if !ok {
		return errAssistantNotFound()
	}
	sub, err := parseAssistantForm(c)
	if err != nil {
		return err
	}
	ctx, ws := c.Request().Context(), current(c).Workspace.ID
	// Meta is asked before the write's transaction (which must not wait for the network), about
	// the assistant as it is now; the write goes ahead only if its connection is still the same.
	before, err := s.Store.AssistantByID(ctx, ws, id)
	if errors.Is(err, store.ErrNotFound) {
		return errAssistantNotFound()
	}
	if err != nil {
		return err
	}
	if sub.publish && !canPublish(c) {
		return echo.NewHTTPError(http.StatusForbidden, "Your role may not publish.")
	}
	if es := append(sub.errs, sub.upd.Validate(before.WhatsAppAccessTokenEnc != "")...); len(es) > 0 {
		return s.invalidForm(c, id, before, sub, es)
	}
	if err := sub.upd.ConfirmWhatsApp(ctx, s.Keys, before, s.WhatsApp.ConfirmNumber); err != nil {
		return s.notConfirmed(c, id, before, sub, err)
	}
	var invalid assistants.Errors
	entries := assistants.AuditEntries(ctx, ws, id, audit.AssistantUpdate)
	saved, err := s.Versions.Save(ctx, ws, id, func(a *store.Assistant, base model.Behaviour) (model.Behaviour, error) {
		if !assistants.SameConnection(before, a) {
			return model.Behaviour{}, assistants.ErrConnectionChanged
		}
		es := append(sub.errs, sub.upd.Validate(a.WhatsAppAccessTokenEnc != "")...)
		if len(es) > 0 {
			invalid = es
			return model.Behaviour{}, es
		}
		old := *a
		if err := sub.upd.ApplySettings(a, s.Keys); err != nil {
			return model.Behaviour{}, err
		}
		assistants.DescribeChange(entries, &old, a)
		return sub.upd.NextBehaviour(base), nil
	}, sub.publish, entries)
	if reason, refused := assistants.IsRefusal(err); refused {
		return s.refusedForm(c, http.StatusConflict, id, before, sub, assistants.Errors{{Field: "publish", Msg: reason}})
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errAssistantNotFound()
	case invalid != nil:
		return s.invalidForm(c, id, before, sub, invalid)
	case errors.Is(err, store.ErrPhoneNumberTaken):
		return s.refusedForm(c, http.StatusConflict, id, before, sub, errPhoneTaken)
	case errors.Is(err, assistants.ErrConnectionChanged):
		return s.refusedForm(c, http.StatusConflict, id, before, sub, errConnectionChanged)
	case err != nil:
		return err
	}
	published := 0
	if saved.Published {
		published = saved.Version.Number
	}
	if !htmx.IsFragment(c) {
		q := "?saved=1"
		if published > 0 {
			q += "&published=" + strconv.Itoa(published)
		}
		return c.Redirect(http.StatusSeeOther, pages.AssistantURL(id)+q)
	}
	f, err := s.editForm(c, saved.Assistant)
	if err != nil {
		return err
	}
	f.Saved = true
	f.Version.JustPublished = published
	return s.renderAssistant(c, http.StatusOK, f)
}

// ---- delete ----

func (s *Handler) assistantDelete(c echo.Context) error {
	id, ok := assistantID(c)
	if !ok {
		return errAssistantNotFound()
	}
	ctx := c.Request().Context()
	ws := current(c).Workspace.ID
	err := s.Store.DeleteAssistant(ctx, ws, id, audit.New(ctx, ws, audit.AssistantDelete, audit.On(audit.TargetAssistant, id), nil))
	if errors.Is(err, store.ErrNotFound) {
		return errAssistantNotFound()
	}
	if err != nil {
		return err
	}
	to := routenames.URL(routenames.Assistants) + "?deleted=1"
	if c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Redirect", to)
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// ---- row fragments ----

// assistantVariableRow answers a blank variable row ("Add variable"); with remove=1 an empty
// body, for the "Remove" buttons that delete their row.
func (s *Handler) assistantVariableRow(c echo.Context) error {
	if c.QueryParam("remove") != "" {
		return c.NoContent(http.StatusOK)
	}
	return htmx.Render(c, http.StatusOK, pages.AssistantVariableRowView(pages.AssistantVariableRow{
		Key: rowKey(), Type: assistants.TypeText, Types: assistants.VariableTypes, Index: -1,
	}))
}

// assistantPrechatRow answers a blank pre-chat row whose variable choice lists the variable
// names sent along (var_name, the form's current names).
func (s *Handler) assistantPrechatRow(c echo.Context) error {
	if c.QueryParam("remove") != "" {
		return c.NoContent(http.StatusOK)
	}
	var names []string
	for _, n := range c.QueryParams()["var_name"] {
		n = strings.TrimSpace(n)
		if assistants.ValidName(n) && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	r := prechatRow(model.PrechatField{Type: assistants.TypeText}, -1, names)
	return htmx.Render(c, http.StatusOK, pages.AssistantPrechatRowView(r))
}
