package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/web/convjson"
	"github.com/parleyhq/parley/app/web/jsonbody"
)

// Assistant versions (issue 15): GET /api/v1/assistants/{id}/versions,
// GET /api/v1/assistants/{id}/versions/{n}, POST /api/v1/assistants/{id}/publish.

// apiVersion is one version of an assistant's behaviour: its number, who saved it and when,
// whether it is the published version or the draft, and its latest publication (null when
// never published).
type apiVersion struct {
	Number       int               `json:"number"`
	SystemPrompt string            `json:"system_prompt"`
	FirstMessage string            `json:"first_message"`
	Model        string            `json:"model"`
	Temperature  float64           `json:"temperature"`
	Variables    []model.Variable  `json:"variables"`
	Evaluators   []model.Evaluator `json:"evaluators"`
	CreatedBy    string            `json:"created_by"`
	CreatedAt    string            `json:"created_at"`
	Published    bool              `json:"published"`
	Draft        bool              `json:"draft"`
	PublishedBy  *string           `json:"published_by"`
	PublishedAt  *string           `json:"published_at"`
}

func toAPIVersion(v *assistants.Version) apiVersion {
	b := v.Behaviour()
	out := apiVersion{Number: v.Number, SystemPrompt: b.SystemPrompt, FirstMessage: b.FirstMessage, Model: b.Model,
		Temperature: b.Temperature, Variables: b.Variables, Evaluators: b.Evaluators, CreatedBy: v.CreatedBy,
		CreatedAt: convjson.Time(v.CreatedAt), Published: v.Published, Draft: v.Draft}
	if p := v.LastPublished; p != nil {
		by, at := p.PublishedBy, convjson.Time(p.PublishedAt)
		out.PublishedBy, out.PublishedAt = &by, &at
	}
	return out
}

func errAPIVersionNotFound() *apierr.Error {
	return apierr.New(http.StatusNotFound, "not_found", "No such version.")
}

func errAPINoDraft() *apierr.Error {
	return apierr.New(http.StatusNotFound, "not_found", "The assistant has no draft.")
}

// apiVersionInvalid is the 422 of a version reference that is neither a number (1 or more)
// nor "draft", naming the field.
func apiVersionInvalid(c echo.Context, field string) error {
	return apierr.FieldsStatus(c, http.StatusUnprocessableEntity, "invalid_field",
		assistants.Errors{{Field: field, Msg: model.ErrVersionRef.Error()}})
}

// decodeVersionRef reads a JSON version reference: a number (7) or the string "draft" (a
// string "7" or "v7" is read too). model.ErrVersionRef otherwise.
func decodeVersionRef(raw json.RawMessage) (model.VersionRef, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if strings.TrimSpace(s) == "" {
			return model.VersionRef{}, model.ErrVersionRef
		}
		return model.ParseVersionRef(s)
	}
	var n json.Number
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	if err := d.Decode(&n); err != nil {
		return model.VersionRef{}, model.ErrVersionRef
	}
	i, err := strconv.Atoi(n.String())
	if err != nil || i < 1 || i > 1<<31-1 {
		return model.VersionRef{}, model.ErrVersionRef
	}
	return model.VersionRef{Number: i}, nil
}

// apiLoadAssistant loads the path's assistant of the key's workspace (404 when none).
func (s *Handler) apiLoadAssistant(c echo.Context) (*store.Assistant, error) {
	id, err := apiAssistantID(c)
	if err != nil {
		return nil, err
	}
	a, err := s.Store.AssistantByID(c.Request().Context(), apiPrincipal(c).WorkspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errAPIAssistantNotFound()
	}
	return a, err
}

// apiAssistantVersions lists the assistant's versions, newest first.
func (s *Handler) apiAssistantVersions(c echo.Context) error {
	a, err := s.apiLoadAssistant(c)
	if err != nil {
		return err
	}
	vs, err := s.Versions.List(c.Request().Context(), a)
	if err != nil {
		return err
	}
	data := make([]apiVersion, len(vs))
	for i := range vs {
		data[i] = toAPIVersion(&vs[i])
	}
	return c.JSON(http.StatusOK, struct {
		PublishedVersion int          `json:"published_version"`
		DraftVersion     *int         `json:"draft_version"`
		Data             []apiVersion `json:"data"`
	}{a.PublishedVersion, draftOf(a), data})
}

// apiAssistantVersion shows version n ("draft" names the draft): 404 when the assistant has
// no such version, 422 when n is not a version reference.
func (s *Handler) apiAssistantVersion(c echo.Context) error {
	a, err := s.apiLoadAssistant(c)
	if err != nil {
		return err
	}
	ref, err := model.ParseVersionRef(c.Param("n"))
	if err != nil || strings.TrimSpace(c.Param("n")) == "" {
		return apiVersionInvalid(c, "n")
	}
	n := ref.Number
	if ref.Draft {
		if a.DraftVersion == 0 {
			return errAPINoDraft()
		}
		n = a.DraftVersion
	}
	v, err := s.Versions.One(c.Request().Context(), a, n)
	if errors.Is(err, assistants.ErrNoVersion) {
		return errAPIVersionNotFound()
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIVersion(v))
}

// apiAssistantPublish publishes a version: {"version": n} or {"version": "draft"}. 200 with
// the assistant; 404 for a missing version (or no draft), 422 for a bad version value, 409
// when the publish gate refuses (its reason in the message).
func (s *Handler) apiAssistantPublish(c echo.Context) error {
	id, err := apiAssistantID(c)
	if err != nil {
		return err
	}
	obj, err := jsonbody.Object(c, false)
	if err != nil {
		return err
	}
	raw, ok := obj["version"]
	for _, k := range jsonbody.Keys(obj) {
		if k != "version" {
			return apierr.InvalidField(k, "unknown field")
		}
	}
	if !ok || jsonbody.IsNull(raw) {
		return apierr.FieldsStatus(c, http.StatusUnprocessableEntity, "invalid_field",
			assistants.Errors{{Field: "version", Msg: `is required: a version number or "draft"`}})
	}
	ref, err := decodeVersionRef(raw)
	if err != nil {
		return apiVersionInvalid(c, "version")
	}
	_, row, err := s.Versions.Publish(c.Request().Context(), apiPrincipal(c).WorkspaceID, id, ref)
	if reason, refused := assistants.IsRefusal(err); refused {
		return apierr.New(http.StatusConflict, "publish_refused", "%s", reason)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errAPIAssistantNotFound()
	case errors.Is(err, store.ErrNoDraft):
		return errAPINoDraft()
	case errors.Is(err, assistants.ErrNoVersion):
		return errAPIVersionNotFound()
	case err != nil:
		return err
	}
	return c.JSON(http.StatusOK, toAPIAssistant(row, s.apiAdmin(c)))
}

// draftOf is the assistant's draft number, nil when it has none.
func draftOf(a *store.Assistant) *int {
	if a.DraftVersion == 0 {
		return nil
	}
	n := a.DraftVersion
	return &n
}
