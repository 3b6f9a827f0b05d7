package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/views/pages"
)

// WhatsApp templates in Settings: Meta's rules for them, the list per WhatsApp number, and
// fetching a Business Account's approved templates from the Graph API.

// Template rules (Meta's): name of lowercase letters, digits and underscores; a language code
// like en or en_US; one of three categories; a body of at most 1024 characters whose
// parameters are numbered 1..n.
var (
	templateNameRe  = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	templateLangRe  = regexp.MustCompile(`^[a-z]{2,3}(_[A-Za-z]{2,4})?$`)
	templateParamRe = regexp.MustCompile(`\{\{\s*(\d+)\s*\}\}`)
	templateCats    = map[string]bool{"MARKETING": true, "UTILITY": true, "AUTHENTICATION": true}
	variableNameRe  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// templateParams returns the distinct parameter numbers of body, sorted.
func templateParams(body string) []int {
	seen := map[int]bool{}
	var ns []int
	for _, m := range templateParamRe.FindAllStringSubmatch(body, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			n = -1
		}
		if !seen[n] {
			seen[n] = true
			ns = append(ns, n)
		}
	}
	sort.Ints(ns)
	return ns
}

// templateParamCount is n of a body whose parameters are {{1}}..{{n}}.
func templateParamCount(body string) int {
	ns := templateParams(body)
	if len(ns) == 0 {
		return 0
	}
	return ns[len(ns)-1]
}

func fillTemplate(body string, params []string) string {
	return templateParamRe.ReplaceAllStringFunc(body, func(m string) string {
		n, _ := strconv.Atoi(strings.Trim(m, "{} "))
		if n >= 1 && n <= len(params) {
			return params[n-1]
		}
		return m
	})
}

// validateTemplate checks a template as entered; the errors are per form field.
func validateTemplate(f *pages.TemplateForm) map[string]string {
	errs := map[string]string{}
	if !templateNameRe.MatchString(f.Name) {
		errs["name"] = "Use 1 to 512 lowercase letters, digits and underscores, as in order_update."
	}
	if !templateLangRe.MatchString(f.Language) {
		errs["language"] = "Enter a language code such as en or en_US."
	}
	if !templateCats[f.Category] {
		errs["category"] = "Choose MARKETING, UTILITY or AUTHENTICATION."
	}
	switch {
	case strings.TrimSpace(f.Body) == "":
		errs["body"] = "Write the template's body."
	case len([]rune(f.Body)) > 1024:
		errs["body"] = "The body is at most 1024 characters."
	default:
		for i, n := range templateParams(f.Body) {
			if n != i+1 {
				errs["body"] = "Number the parameters {{1}}, {{2}}, … consecutively from 1."
				break
			}
		}
	}
	if f.Params != "" {
		names := strings.Split(f.Params, ",")
		for i := range names {
			names[i] = strings.TrimSpace(names[i])
			if names[i] != "" && !variableNameRe.MatchString(names[i]) {
				errs["params"] = "Variable names are letters, digits, _ . and -, separated by commas."
			}
		}
		if len(names) > templateParamCount(f.Body) && errs["body"] == "" {
			errs["params"] = "More variables than the body has parameters."
		}
		f.Params = strings.Join(names, ",")
	}
	return errs
}

func wabaID(a *store.Assistant) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(a.WidgetSettings), &m)
	v, _ := m[WABASettingKey].(string)
	return v
}

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
		if a.WhatsAppPhoneNumberID == nil || *a.WhatsAppPhoneNumberID == "" {
			continue
		}
		d.Numbers = append(d.Numbers, pages.WANumber{
			AssistantID: a.ID, Name: a.Name, PhoneNumberID: *a.WhatsAppPhoneNumberID, WABAID: wabaID(a),
			HasToken: a.WhatsAppAccessTokenEnc != "", Templates: by[a.ID],
		})
	}
	if len(d.Numbers) > 0 {
		d.Form.AssistantID, d.Form.Category = d.Numbers[0].AssistantID, "UTILITY"
	}
	return d, nil
}

// waNumber returns the workspace's assistant named by the form's assistant_id when it is
// connected to a WhatsApp number.
func (s *Handler) waNumber(c echo.Context) (*store.Assistant, error) {
	id, _ := strconv.ParseInt(c.FormValue("assistant_id"), 10, 64)
	a, err := s.Store.AssistantByID(c.Request().Context(), current(c).Workspace.ID, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (a.WhatsAppPhoneNumberID == nil || *a.WhatsAppPhoneNumberID == "")) {
		return nil, store.ErrNotFound
	}
	return a, err
}

func (s *Handler) waTemplateCreate(c echo.Context) error {
	f := pages.TemplateForm{
		Name: strings.TrimSpace(c.FormValue("name")), Language: strings.TrimSpace(c.FormValue("language")),
		Category: strings.ToUpper(strings.TrimSpace(c.FormValue("category"))), Body: strings.TrimSpace(c.FormValue("body")),
		Params: strings.TrimSpace(c.FormValue("params")),
	}
	f.AssistantID, _ = strconv.ParseInt(c.FormValue("assistant_id"), 10, 64)
	errs := validateTemplate(&f)
	a, err := s.waNumber(c)
	if errors.Is(err, store.ErrNotFound) {
		errs["assistant_id"] = "Choose an assistant connected to a WhatsApp number."
	} else if err != nil {
		return err
	}
	if len(errs) == 0 {
		t := &store.WhatsAppTemplate{WorkspaceID: a.WorkspaceID, AssistantID: a.ID, Name: f.Name, Language: f.Language, Category: f.Category, Body: f.Body, Params: f.Params}
		err := s.Store.CreateWhatsAppTemplate(c.Request().Context(), t)
		if errors.Is(err, store.ErrTemplateExists) {
			errs["name"] = "This number already has a template " + f.Name + " in " + f.Language + "."
		} else if err != nil {
			return err
		}
	}
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

var wabaRe = regexp.MustCompile(`^[0-9]{1,32}$`)

// waWABASave stores (or clears) the WhatsApp Business Account id of a number.
func (s *Handler) waWABASave(c echo.Context) error {
	a, err := s.waNumber(c)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such WhatsApp number.")
	} else if err != nil {
		return err
	}
	v := strings.TrimSpace(c.FormValue("waba_id"))
	var msg, bad string
	if v != "" && !wabaRe.MatchString(v) {
		bad = "The WhatsApp Business Account id is a number of up to 32 digits."
	} else {
		_, err = s.Store.ModifyAssistant(c.Request().Context(), a.WorkspaceID, a.ID, func(a *store.Assistant) error {
			m := map[string]any{}
			if err := json.Unmarshal([]byte(a.WidgetSettings), &m); err != nil || m == nil {
				m = map[string]any{}
			}
			if v == "" {
				delete(m, WABASettingKey)
			} else {
				m[WABASettingKey] = v
			}
			b, err := json.Marshal(m)
			a.WidgetSettings = string(b)
			return err
		})
		if err != nil {
			return err
		}
		msg = "WhatsApp Business Account id saved."
	}
	d, err := s.settingsData(c)
	if err != nil {
		return err
	}
	for i := range d.Templates.Numbers {
		if n := &d.Templates.Numbers[i]; n.AssistantID == a.ID {
			n.FetchErr, n.FetchNotice = bad, msg
		}
	}
	return s.renderSettings(c, http.StatusOK, d)
}

// waTemplatesFetch imports the approved templates of a number's WhatsApp Business Account
// from Meta's Graph API.
func (s *Handler) waTemplatesFetch(c echo.Context) error {
	a, err := s.waNumber(c)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such WhatsApp number.")
	} else if err != nil {
		return err
	}
	var msg, bad string
	waba := wabaID(a)
	token := a.WhatsAppAccessTokenEnc
	if token != "" && s.Keys != nil {
		if token, err = s.Keys.Decrypt(token); err != nil {
			bad = "The assistant's WhatsApp access token cannot be read: enter it again on the assistant's page."
		}
	}
	switch {
	case bad != "":
	case waba == "":
		bad = "Fetching templates needs the WhatsApp Business Account id of this number: enter it below."
	case token == "":
		bad = "Fetching templates needs the assistant's WhatsApp access token: enter it on the assistant's page."
	default:
		ctx, cancel := context.WithTimeout(c.Request().Context(), 30*time.Second)
		defer cancel()
		got, err := fetchMetaTemplates(ctx, s.Config.WhatsAppGraphURL, waba, token)
		if err != nil {
			bad = "Meta's API refused the request: " + err.Error()
			break
		}
		var imp []store.WhatsAppTemplate
		skipped := 0
		for _, t := range got {
			f := pages.TemplateForm{Name: t.Name, Language: t.Language, Category: strings.ToUpper(t.Category), Body: t.Body}
			if !strings.EqualFold(t.Status, "APPROVED") || len(validateTemplate(&f)) > 0 {
				skipped++
				continue
			}
			imp = append(imp, store.WhatsAppTemplate{WorkspaceID: a.WorkspaceID, AssistantID: a.ID, Name: f.Name, Language: f.Language, Category: f.Category, Body: f.Body, Source: "meta"})
		}
		n, err := s.Store.UpsertWhatsAppTemplates(c.Request().Context(), imp)
		if err != nil {
			return err
		}
		msg = fmt.Sprintf("Imported %d approved template(s) from Meta", n)
		if skipped > 0 {
			msg += fmt.Sprintf("; %d skipped (not approved, or without a usable body)", skipped)
		}
		msg += "."
	}
	d, err := s.settingsData(c)
	if err != nil {
		return err
	}
	for i := range d.Templates.Numbers {
		if n := &d.Templates.Numbers[i]; n.AssistantID == a.ID {
			n.FetchErr, n.FetchNotice = bad, msg
		}
	}
	return s.renderSettings(c, http.StatusOK, d)
}

// metaTemplate is one template of Meta's message_templates list, with its body's text.
type metaTemplate struct {
	Name, Language, Category, Status, Body string
}

// fetchMetaTemplates reads GET {graph}/{waba}/message_templates, following Meta's paging
// (at most 50 pages, only on the same Graph API base).
func fetchMetaTemplates(ctx context.Context, graphURL, waba, token string) ([]metaTemplate, error) {
	base := strings.TrimRight(graphURL, "/")
	if base == "" {
		base = whatsapp.DefaultGraphURL
	}
	next := base + "/" + url.PathEscape(waba) + "/message_templates?limit=100&fields=name,language,category,status,components"
	hc := &http.Client{Timeout: 30 * time.Second}
	var out []metaTemplate
	for page := 0; next != "" && page < 50; page++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		raw, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		if res.StatusCode != http.StatusOK {
			var e struct {
				Error struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
				return nil, fmt.Errorf("HTTP %d: %s", res.StatusCode, e.Error.Message)
			}
			return nil, fmt.Errorf("HTTP %d", res.StatusCode)
		}
		var body struct {
			Data []struct {
				Name       string `json:"name"`
				Language   string `json:"language"`
				Category   string `json:"category"`
				Status     string `json:"status"`
				Components []struct {
					Type string `json:"type"`
					Text string `json:"text"`
				} `json:"components"`
			} `json:"data"`
			Paging struct {
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			return nil, fmt.Errorf("unexpected answer: %v", err)
		}
		for _, d := range body.Data {
			t := metaTemplate{Name: d.Name, Language: d.Language, Category: d.Category, Status: d.Status}
			for _, c := range d.Components {
				if strings.EqualFold(c.Type, "BODY") {
					t.Body = c.Text
				}
			}
			out = append(out, t)
		}
		next = body.Paging.Next
		if !strings.HasPrefix(next, base+"/") {
			next = "" // never follow a link elsewhere with the token
		}
	}
	return out, nil
}
