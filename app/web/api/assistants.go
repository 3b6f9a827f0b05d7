package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/web/convjson"
	"github.com/parleyhq/parley/app/web/jsonbody"
	"github.com/parleyhq/parley/app/web/routenames"
)

// apiAssistant is an assistant as the API shows it. The WhatsApp access token is write-only:
// whatsapp_connected says whether one is stored.
type apiAssistant struct {
	ID                    int64             `json:"id"`
	Name                  string            `json:"name"`
	SystemPrompt          string            `json:"system_prompt"`
	FirstMessage          string            `json:"first_message"`
	Model                 string            `json:"model"`
	Temperature           float64           `json:"temperature"`
	Variables             []model.Variable  `json:"variables"`
	PrechatFields         []apiPrechatField `json:"prechat_fields"`
	AllowedOrigins        []string          `json:"allowed_origins"`
	Title                 string            `json:"title"`
	Color                 string            `json:"color"`
	PublicKey             string            `json:"public_key"`
	WhatsAppPhoneNumberID *string           `json:"whatsapp_phone_number_id"`
	WhatsAppConnected     bool              `json:"whatsapp_connected"`
	// Evaluators are the custom evaluators, each with its version (issue 14).
	Evaluators   []model.Evaluator `json:"evaluators"`
	CSATWhatsApp bool              `json:"csat_whatsapp"`
	// Versions (issue 15): the behaviour fields above are the published version's (what
	// answers customers); draft_version is null when there is no draft.
	PublishedVersion int  `json:"published_version"`
	DraftVersion     *int `json:"draft_version"`
	PublishGate      bool `json:"publish_gate"`
	apiIdentity
	apiWhatsAppNumber
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

// apiWhatsAppNumber is what Meta confirmed of the assistant's WhatsApp number: its display
// number and verified business name, and when (all null when Meta has not confirmed it).
type apiWhatsAppNumber struct {
	DisplayPhoneNumber *string `json:"whatsapp_display_phone_number"`
	VerifiedName       *string `json:"whatsapp_verified_name"`
	VerifiedAt         *string `json:"whatsapp_verified_at"`
}

func toAPIWhatsAppNumber(c model.WhatsAppConnection) apiWhatsAppNumber {
	if !c.Verified() {
		return apiWhatsAppNumber{}
	}
	at := convjson.Time(*c.VerifiedAt)
	return apiWhatsAppNumber{DisplayPhoneNumber: &c.Number.DisplayPhoneNumber, VerifiedName: &c.Number.VerifiedName, VerifiedAt: &at}
}

// apiPrechatField always names the variable it fills.
type apiPrechatField struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Type     string `json:"type"`
	Variable string `json:"variable"`
	Required bool   `json:"required"`
}

func toAPIAssistant(row *store.Assistant, admin bool) apiAssistant {
	a := row.AsModel()
	out := apiAssistant{
		ID: a.ID, Name: a.Name, SystemPrompt: a.SystemPrompt, FirstMessage: a.FirstMessage, Model: a.Model,
		Temperature: a.Temperature, Variables: a.Variables, PrechatFields: make([]apiPrechatField, 0, len(a.PrechatFields)),
		AllowedOrigins: a.AllowedOrigins, Title: a.Widget.Title, Color: a.Widget.Color, PublicKey: a.PublicKey,
		WhatsAppConnected: a.WhatsAppConnected(), CSATWhatsApp: a.CSATWhatsApp, apiWhatsAppNumber: toAPIWhatsAppNumber(a.WhatsApp), CreatedAt: convjson.Time(a.CreatedAt), UpdatedAt: convjson.Time(a.UpdatedAt),
	}
	out.Evaluators = a.Evaluators
	out.PublishedVersion, out.DraftVersion, out.PublishGate = row.PublishedVersion, draftOf(row), row.PublishGate
	out.apiIdentity = toAPIIdentity(a, admin)
	for _, p := range a.PrechatFields {
		out.PrechatFields = append(out.PrechatFields, apiPrechatField{Name: p.Name, Label: p.Label, Type: p.Type, Variable: p.Fills(), Required: p.Required})
	}
	if a.WhatsAppPhoneNumberID != "" {
		id := a.WhatsAppPhoneNumberID
		out.WhatsAppPhoneNumberID = &id
	}
	return out
}

func errAPIAssistantNotFound() *apierr.Error {
	return apierr.New(http.StatusNotFound, "not_found", "No such assistant.")
}

func errAPIPhoneTaken() *apierr.Error {
	return apierr.New(http.StatusConflict, "conflict", "whatsapp_phone_number_id: is already connected to another assistant")
}

// apiNotConfirmed answers a WhatsApp connection Meta did not confirm: 422 naming
// whatsapp_access_token, or 502 when the Graph API could not be asked.
func apiNotConfirmed(c echo.Context, err error) error {
	var ce *assistants.ConfirmError
	if !errors.As(err, &ce) {
		return err
	}
	if ce.Unreachable {
		return apierr.FieldsStatus(c, http.StatusBadGateway, "graph_unreachable", ce.Errors())
	}
	return apierr.FieldsStatus(c, http.StatusUnprocessableEntity, "whatsapp_not_confirmed", ce.Errors())
}

func errAPIConnectionChanged() *apierr.Error {
	return apierr.New(http.StatusConflict, "conflict", "%s", assistants.ErrConnectionChanged.Error())
}

// apiInvalid answers an invalid assistant: 400 naming the fields, as it always has; 422 when
// an evaluator is among them (issue 14 asks 422 for the evaluators).
func apiInvalid(c echo.Context, es assistants.Errors) error {
	if len(es.WithPrefix("evaluators")) > 0 {
		return apierr.FieldsStatus(c, http.StatusUnprocessableEntity, "invalid_field", es)
	}
	return apierr.Fields(c, es)
}

// ---- strict decoding ----

// assistantPatch is a request body: each field is nil when absent.
type assistantPatch struct {
	Name, SystemPrompt, FirstMessage, Model, Title, Color *string
	Temperature                                           *float64
	Variables                                             *[]model.Variable
	PrechatFields                                         *[]model.PrechatField
	AllowedOrigins                                        *[]string
	PhoneNumberID                                         *string // "" when sent as null
	AccessToken                                           *string
	IdentityRequired                                      *bool
	Evaluators                                            *[]model.Evaluator
	CSATWhatsApp                                          *bool
	// issue 15: PublishGate is the setting; Publish (PATCH only) publishes the behaviour
	// written instead of leaving it as the draft.
	PublishGate, Publish *bool
}

// decodeAssistantBody decodes a JSON object strictly: an unknown field, a field of the wrong
// type, or anything after the object is a 400 naming it.
func decodeAssistantBody(c echo.Context) (*assistantPatch, error) {
	obj, err := jsonbody.Object(c, false)
	if err != nil {
		return nil, err
	}
	keys := jsonbody.Keys(obj)
	p := &assistantPatch{}
	for _, k := range keys {
		v := obj[k]
		var err error
		switch k {
		case "name":
			p.Name, err = jsonbody.String(k, v)
		case "system_prompt":
			p.SystemPrompt, err = jsonbody.String(k, v)
		case "first_message":
			p.FirstMessage, err = jsonbody.String(k, v)
		case "model":
			p.Model, err = jsonbody.String(k, v)
		case "title":
			p.Title, err = jsonbody.String(k, v)
		case "color":
			p.Color, err = jsonbody.String(k, v)
		case "whatsapp_access_token":
			p.AccessToken, err = jsonbody.String(k, v)
		case "whatsapp_phone_number_id":
			if jsonbody.IsNull(v) {
				empty := ""
				p.PhoneNumberID = &empty
			} else {
				p.PhoneNumberID, err = jsonbody.String(k, v)
			}
		case "temperature":
			var t float64
			if jsonbody.IsNull(v) || json.Unmarshal(v, &t) != nil {
				err = apierr.InvalidField(k, "must be a number from 0 to 2")
			} else {
				p.Temperature = &t
			}
		case "variables":
			var vs []model.Variable
			vs, err = jsonbody.Objects[model.Variable](k, v)
			p.Variables = &vs
		case "prechat_fields":
			var fs []model.PrechatField
			fs, err = jsonbody.Objects[model.PrechatField](k, v)
			p.PrechatFields = &fs
		case "identity_required":
			p.IdentityRequired, err = decodeIdentityRequired(v)
		case "evaluators":
			var es []model.Evaluator
			es, err = jsonbody.Objects[model.Evaluator](k, v)
			p.Evaluators = &es
		case "csat_whatsapp":
			var b bool
			if jsonbody.IsNull(v) || json.Unmarshal(v, &b) != nil {
				err = apierr.InvalidField(k, "must be true or false")
			} else {
				p.CSATWhatsApp = &b
			}
		case "publish_gate", "publish":
			var b bool
			if jsonbody.IsNull(v) || json.Unmarshal(v, &b) != nil {
				err = apierr.InvalidField(k, "must be true or false")
			} else if k == "publish" {
				p.Publish = &b
			} else {
				p.PublishGate = &b
			}
		case "allowed_origins":
			var os []string
			os, err = jsonbody.Strings(k, v)
			p.AllowedOrigins = &os
		default:
			err = apierr.InvalidField(k, "unknown field")
		}
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// apply lays the patch over u (the current settings, or a new assistant's defaults).
func (p *assistantPatch) apply(u *assistants.Update) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&u.Name, p.Name)
	set(&u.SystemPrompt, p.SystemPrompt)
	set(&u.FirstMessage, p.FirstMessage)
	set(&u.Model, p.Model)
	set(&u.Widget.Title, p.Title)
	set(&u.Widget.Color, p.Color)
	if p.Temperature != nil {
		u.Temperature = *p.Temperature
	}
	if p.Variables != nil {
		u.Variables = *p.Variables
	}
	if p.PrechatFields != nil {
		u.PrechatFields = *p.PrechatFields
	}
	if p.AllowedOrigins != nil {
		u.AllowedOrigins = *p.AllowedOrigins
	}
	set(&u.WhatsAppPhoneNumberID, p.PhoneNumberID)
	set(&u.AccessToken, p.AccessToken)
	if p.IdentityRequired != nil {
		u.IdentityRequired = *p.IdentityRequired
	}
	if p.Evaluators != nil {
		u.Evaluators = *p.Evaluators
	}
	if p.CSATWhatsApp != nil {
		u.CSATWhatsApp = *p.CSATWhatsApp
	}
	if p.PublishGate != nil {
		u.PublishGate = *p.PublishGate
	}
}

// ---- handlers ----

func apiAssistantID(c echo.Context) (int64, error) {
	id, ok := routenames.ParamID(c, "id")
	if !ok {
		return 0, errAPIAssistantNotFound()
	}
	return id, nil
}

// apiAssistants lists the key's workspace's assistants by name.
func (s *Handler) apiAssistants(c echo.Context) error {
	rows, err := s.Store.Assistants(c.Request().Context(), apiPrincipal(c).WorkspaceID)
	if err != nil {
		return err
	}
	admin := s.apiAdmin(c)
	data := make([]apiAssistant, 0, len(rows))
	for i := range rows {
		data = append(data, toAPIAssistant(&rows[i], admin))
	}
	return c.JSON(http.StatusOK, struct {
		Data []apiAssistant `json:"data"`
	}{data})
}

func (s *Handler) apiAssistant(c echo.Context) error {
	id, err := apiAssistantID(c)
	if err != nil {
		return err
	}
	row, err := s.Store.AssistantByID(c.Request().Context(), apiPrincipal(c).WorkspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errAPIAssistantNotFound()
	}
	if err != nil {
		return err
	}
	out := toAPIAssistant(row, s.apiAdmin(c))
	return c.JSON(http.StatusOK, out)
}

// apiAssistantCreate creates an assistant: 201 with its Location.
func (s *Handler) apiAssistantCreate(c echo.Context) error {
	p, err := decodeAssistantBody(c)
	if err != nil {
		return err
	}
	if p.Publish != nil {
		return apierr.InvalidField("publish", "unknown field (a new assistant's settings are its published version 1)")
	}
	u := assistants.Update{AssistantSettings: assistants.NewSettings(s.Config.LLMModel)}
	p.apply(&u)
	if es := u.Validate(false); len(es) > 0 {
		return apiInvalid(c, es)
	}
	if err := u.ConfirmWhatsApp(c.Request().Context(), s.Keys, nil, s.WhatsApp.ConfirmNumber); err != nil {
		return apiNotConfirmed(c, err)
	}
	row := &store.Assistant{WorkspaceID: apiPrincipal(c).WorkspaceID}
	if err := u.Apply(row, s.Keys); err != nil {
		return err
	}
	entries := assistants.AuditEntries(c.Request().Context(), row.WorkspaceID, 0, audit.AssistantCreate)
	assistants.DescribeChange(entries, nil, row)
	err = s.Store.CreateAssistant(c.Request().Context(), row, entries...)
	if errors.Is(err, store.ErrPhoneNumberTaken) {
		return errAPIPhoneTaken()
	}
	if err != nil {
		return err
	}
	out := toAPIAssistant(row, s.apiAdmin(c))
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/assistants/"+strconv.FormatInt(row.ID, 10))
	return c.JSON(http.StatusCreated, out)
}

// apiAssistantUpdate changes only the fields given; the result is validated as a whole. The
// behaviour fields go to the draft (a new version when they differ from it, or from the
// published version when there is no draft) unless "publish": true is sent; the other
// settings are written to the assistant at once. With the publish gate on, "publish": true
// is a 409 and nothing is written.
func (s *Handler) apiAssistantUpdate(c echo.Context) error {
	id, err := apiAssistantID(c)
	if err != nil {
		return err
	}
	p, err := decodeAssistantBody(c)
	if err != nil {
		return err
	}
	ctx, ws := c.Request().Context(), apiPrincipal(c).WorkspaceID
	// Meta is asked before the write's transaction (which must not wait for the network), about
	// the assistant as it is now; the write goes ahead only if its connection is still the same.
	stored, err := s.Store.AssistantByID(ctx, ws, id)
	if errors.Is(err, store.ErrNotFound) {
		return errAPIAssistantNotFound()
	}
	if err != nil {
		return err
	}
	u := assistants.Update{AssistantSettings: stored.AsModel().AssistantSettings}
	p.apply(&u)
	if es := u.Validate(stored.WhatsAppAccessTokenEnc != ""); len(es) > 0 {
		return apiInvalid(c, es)
	}
	if err := u.ConfirmWhatsApp(ctx, s.Keys, stored, s.WhatsApp.ConfirmNumber); err != nil {
		return apiNotConfirmed(c, err)
	}
	var invalid assistants.Errors
	entries := assistants.AuditEntries(ctx, ws, id, audit.AssistantUpdate)
	saved, err := s.Versions.Save(ctx, ws, id, func(row *store.Assistant, base model.Behaviour) (model.Behaviour, error) {
		if !assistants.SameConnection(stored, row) {
			return model.Behaviour{}, assistants.ErrConnectionChanged
		}
		fresh := assistants.Update{AssistantSettings: row.AsModel().AssistantSettings}
		fresh.SetBehaviour(base) // behaviour edits start from the draft
		p.apply(&fresh)
		if es := fresh.Validate(row.WhatsAppAccessTokenEnc != ""); len(es) > 0 {
			invalid = es
			return model.Behaviour{}, es
		}
		fresh.AccessToken, fresh.Confirmed = u.AccessToken, u.Confirmed
		old := *row
		if err := fresh.ApplySettings(row, s.Keys); err != nil {
			return model.Behaviour{}, err
		}
		assistants.DescribeChange(entries, &old, row)
		return fresh.NextBehaviour(base), nil
	}, p.Publish != nil && *p.Publish, entries)
	if reason, refused := assistants.IsRefusal(err); refused {
		return apierr.New(http.StatusConflict, "publish_refused", "%s", reason)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errAPIAssistantNotFound()
	case invalid != nil:
		return apiInvalid(c, invalid)
	case errors.Is(err, store.ErrPhoneNumberTaken):
		return errAPIPhoneTaken()
	case errors.Is(err, assistants.ErrConnectionChanged):
		return errAPIConnectionChanged()
	case err != nil:
		return err
	}
	out := toAPIAssistant(saved.Assistant, s.apiAdmin(c))
	return c.JSON(http.StatusOK, out)
}

// apiAssistantDelete deletes an assistant; its conversations stay, without an assistant.
func (s *Handler) apiAssistantDelete(c echo.Context) error {
	id, err := apiAssistantID(c)
	if err != nil {
		return err
	}
	ctx, ws := c.Request().Context(), apiPrincipal(c).WorkspaceID
	err = s.Store.DeleteAssistant(ctx, ws, id, audit.New(ctx, ws, audit.AssistantDelete, audit.On(audit.TargetAssistant, id), nil))
	if errors.Is(err, store.ErrNotFound) {
		return errAPIAssistantNotFound()
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
