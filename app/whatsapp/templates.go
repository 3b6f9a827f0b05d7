package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/app/store"
)

// Template rules (Meta's): name of lowercase letters, digits and underscores; a language code
// like en or en_US; one of three categories; a body of at most 1024 characters whose
// parameters are numbered 1..n.
var (
	templateNameRe  = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	templateLangRe  = regexp.MustCompile(`^[a-z]{2,3}(_[A-Za-z]{2,4})?$`)
	templateParamRe = regexp.MustCompile(`\{\{\s*(\d+)\s*\}\}`)
	templateCats    = map[string]bool{"MARKETING": true, "UTILITY": true, "AUTHENTICATION": true}
	variableNameRe  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	wabaRe          = regexp.MustCompile(`^[0-9]{1,32}$`)
)

// TemplateDraft is a template as entered on the dashboard (or read from Meta): Params is the
// comma-separated conversation variables that fill {{1}}, {{2}}, ...
type TemplateDraft struct {
	AssistantID                            int64
	Name, Language, Category, Body, Params string
}

// TemplateParams returns the distinct parameter numbers of body, sorted.
func TemplateParams(body string) []int {
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

// TemplateParamCount is n of a body whose parameters are {{1}}..{{n}}.
func TemplateParamCount(body string) int {
	ns := TemplateParams(body)
	if len(ns) == 0 {
		return 0
	}
	return ns[len(ns)-1]
}

// FillTemplate replaces {{n}} by params[n-1] (a parameter without a value stays as it is).
func FillTemplate(body string, params []string) string {
	return templateParamRe.ReplaceAllStringFunc(body, func(m string) string {
		n, _ := strconv.Atoi(strings.Trim(m, "{} "))
		if n >= 1 && n <= len(params) {
			return params[n-1]
		}
		return m
	})
}

// ValidateTemplate checks a template as entered; the errors are per form field (name,
// language, category, body, params). It normalises d.Params (names trimmed).
func ValidateTemplate(d *TemplateDraft) map[string]string {
	errs := map[string]string{}
	if !templateNameRe.MatchString(d.Name) {
		errs["name"] = "Use 1 to 512 lowercase letters, digits and underscores, as in order_update."
	}
	if !templateLangRe.MatchString(d.Language) {
		errs["language"] = "Enter a language code such as en or en_US."
	}
	if !templateCats[d.Category] {
		errs["category"] = "Choose MARKETING, UTILITY or AUTHENTICATION."
	}
	switch {
	case strings.TrimSpace(d.Body) == "":
		errs["body"] = "Write the template's body."
	case len([]rune(d.Body)) > 1024:
		errs["body"] = "The body is at most 1024 characters."
	default:
		for i, n := range TemplateParams(d.Body) {
			if n != i+1 {
				errs["body"] = "Number the parameters {{1}}, {{2}}, … consecutively from 1."
				break
			}
		}
	}
	if d.Params != "" {
		names := strings.Split(d.Params, ",")
		for i := range names {
			names[i] = strings.TrimSpace(names[i])
			if names[i] != "" && !variableNameRe.MatchString(names[i]) {
				errs["params"] = "Variable names are letters, digits, _ . and -, separated by commas."
			}
		}
		if len(names) > TemplateParamCount(d.Body) && errs["body"] == "" {
			errs["params"] = "More variables than the body has parameters."
		}
		d.Params = strings.Join(names, ",")
	}
	return errs
}

// WABAID is the WhatsApp Business Account id saved on the assistant ("" when none; the store
// decodes it from widget_settings, model.WABAIDKey).
func WABAID(a *store.Assistant) string { return a.WidgetSettings.WABAID }

// Number returns the workspace's assistant assistantID when it is connected to a WhatsApp
// number; store.ErrNotFound otherwise.
func (s *Service) Number(ctx context.Context, workspaceID, assistantID int64) (*store.Assistant, error) {
	a, err := s.Store.AssistantByID(ctx, workspaceID, assistantID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.PhoneNumberID() == "") {
		return nil, store.ErrNotFound
	}
	return a, err
}

// CreateTemplate validates d and stores it as a template of the workspace's WhatsApp number
// d.AssistantID. Problems a user can fix come back per form field (with "assistant_id" when
// the assistant is not connected to a number, "name" when the number already has the name
// in that language) and nothing is stored; err is for the rest.
func (s *Service) CreateTemplate(ctx context.Context, workspaceID int64, d *TemplateDraft) (map[string]string, error) {
	errs := ValidateTemplate(d)
	a, err := s.Number(ctx, workspaceID, d.AssistantID)
	if errors.Is(err, store.ErrNotFound) {
		errs["assistant_id"] = "Choose an assistant connected to a WhatsApp number."
	} else if err != nil {
		return errs, err
	}
	if len(errs) > 0 {
		return errs, nil
	}
	t := &store.WhatsAppTemplate{WorkspaceID: a.WorkspaceID, AssistantID: a.ID, Name: d.Name, Language: d.Language, Category: d.Category, Body: d.Body, Params: d.Params}
	err = s.Store.CreateWhatsAppTemplate(ctx, t)
	if errors.Is(err, store.ErrTemplateExists) {
		errs["name"] = "This number already has a template " + d.Name + " in " + d.Language + "."
		return errs, nil
	}
	return errs, err
}

// SaveWABA stores (or, with "", clears) the WhatsApp Business Account id of the workspace's
// number assistantID. It returns the assistant (store.ErrNotFound when it is not connected
// to a number) and, when v is not an id, why (nothing is saved then).
func (s *Service) SaveWABA(ctx context.Context, workspaceID, assistantID int64, v string) (a *store.Assistant, bad string, err error) {
	a, err = s.Number(ctx, workspaceID, assistantID)
	if err != nil {
		return nil, "", err
	}
	v = strings.TrimSpace(v)
	if v != "" && !wabaRe.MatchString(v) {
		return a, "The WhatsApp Business Account id is a number of up to 32 digits.", nil
	}
	_, err = s.Store.ModifyAssistant(ctx, a.WorkspaceID, a.ID, func(a *store.Assistant) error {
		a.WidgetSettings.WABAID = v
		return nil
	})
	return a, "", err
}

// ImportTemplates imports the approved templates of the WhatsApp Business Account of the
// workspace's number assistantID from Meta. It returns the assistant (store.ErrNotFound when
// it is not connected to a number), the notice to show on success, or why nothing could be
// fetched (bad: the token, the account id, Meta's refusal); err is for the rest.
func (s *Service) ImportTemplates(ctx context.Context, workspaceID, assistantID int64) (a *store.Assistant, notice, bad string, err error) {
	a, err = s.Number(ctx, workspaceID, assistantID)
	if err != nil {
		return nil, "", "", err
	}
	waba := WABAID(a)
	token := a.WhatsAppAccessTokenEnc
	if token != "" && s.Decrypt != nil {
		if token, err = s.Decrypt(token); err != nil {
			return a, "", "The assistant's WhatsApp access token cannot be read: enter it again on the assistant's page.", nil
		}
	}
	switch {
	case waba == "":
		return a, "", "Fetching templates needs the WhatsApp Business Account id of this number: enter it below.", nil
	case token == "":
		return a, "", "Fetching templates needs the assistant's WhatsApp access token: enter it on the assistant's page.", nil
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	got, err := s.Client.MessageTemplates(fctx, waba, token)
	if err != nil {
		return a, "", "Meta's API refused the request: " + templatesErr(err), nil
	}
	var imp []store.WhatsAppTemplate
	skipped := 0
	for _, t := range got {
		d := TemplateDraft{Name: t.Name, Language: t.Language, Category: strings.ToUpper(t.Category), Body: t.Body}
		if !strings.EqualFold(t.Status, "APPROVED") || len(ValidateTemplate(&d)) > 0 {
			skipped++
			continue
		}
		imp = append(imp, store.WhatsAppTemplate{WorkspaceID: a.WorkspaceID, AssistantID: a.ID, Name: d.Name, Language: d.Language, Category: d.Category, Body: d.Body, Source: "meta"})
	}
	n, err := s.Store.UpsertWhatsAppTemplates(ctx, imp)
	if err != nil {
		return a, "", "", err
	}
	notice = fmt.Sprintf("Imported %d approved template(s) from Meta", n)
	if skipped > 0 {
		notice += fmt.Sprintf("; %d skipped (not approved, or without a usable body)", skipped)
	}
	return a, notice + ".", "", nil
}

// templatesErr is how the dashboard words a failed template list: "HTTP 401: <Meta's
// message>", "HTTP 502" when the answer was not Meta's, or the transport error.
func templatesErr(err error) string {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err.Error()
	}
	if ae.Meta() && ae.Message != "" {
		return fmt.Sprintf("HTTP %d: %s", ae.HTTPStatus, ae.Message)
	}
	return fmt.Sprintf("HTTP %d", ae.HTTPStatus)
}

// MetaTemplate is one template of Meta's message_templates list, with its body's text.
type MetaTemplate struct {
	Name, Language, Category, Status, Body string
}

// MessageTemplates reads GET {graph}/{waba}/message_templates, following Meta's paging (at
// most 50 pages, and only on the same Graph API base: the token never goes elsewhere). An
// answer other than 200 is an *APIError.
func (c *Client) MessageTemplates(ctx context.Context, waba, token string) ([]MetaTemplate, error) {
	base := c.base()
	next := base + "/" + url.PathEscape(waba) + "/message_templates?limit=100&fields=name,language,category,status,components"
	var out []MetaTemplate
	for page := 0; next != "" && page < 50; page++ {
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
		if err := c.get(ctx, next, token, 8<<20, &body); err != nil {
			var ae *APIError
			if errors.As(err, &ae) {
				return nil, err
			}
			var se *json.SyntaxError
			var te *json.UnmarshalTypeError
			if errors.As(err, &se) || errors.As(err, &te) {
				return nil, fmt.Errorf("unexpected answer: %v", err)
			}
			return nil, err
		}
		for _, d := range body.Data {
			t := MetaTemplate{Name: d.Name, Language: d.Language, Category: d.Category, Status: d.Status}
			for _, comp := range d.Components {
				if strings.EqualFold(comp.Type, "BODY") {
					t.Body = comp.Text
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
