package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/views"
)

// WhatsApp in the dashboard: the composer of a human and the AI switch on a conversation's
// page, and the templates of each WhatsApp number in Settings.

// WABASettingKey is where an assistant's WhatsApp Business Account id is kept in its
// widget_settings JSON (fetching templates from Meta needs it).
const WABASettingKey = "whatsapp_business_account_id"

func (s *Server) waService() *whatsapp.Service { return s.WhatsApp }

func newSendKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var sendKeyRe = regexp.MustCompile(`^[a-f0-9]{16,64}$`)

// waPanel is the WhatsApp panel of a conversation as the database has it now.
func (s *Server) waPanel(c echo.Context, conv *store.Conversation, vars []store.ConversationVariable) (*views.WAPanel, error) {
	ctx := c.Request().Context()
	now := store.Now()
	p := &views.WAPanel{
		ConvID: conv.ID, CSRF: csrfToken(c), Open: whatsapp.WindowOpen(conv, now), AIEnabled: conv.AIEnabled, Key: newSendKey(),
	}
	if !p.Open && conv.WindowExpiresAt != nil {
		p.Closed, p.ClosedAt = true, *conv.WindowExpiresAt
		if conv.WindowClosedAt != nil && conv.WindowClosedAt.Before(p.ClosedAt) {
			p.ClosedAt = *conv.WindowClosedAt
		}
	}
	if p.Open || conv.AssistantID == nil {
		return p, nil
	}
	ts, err := s.Store.WhatsAppTemplates(ctx, conv.WorkspaceID, *conv.AssistantID)
	if err != nil {
		return nil, err
	}
	values := map[string]string{}
	for _, v := range vars {
		values[v.Name] = v.Value
	}
	for i := range ts {
		t := &ts[i]
		names := t.ParamNames()
		opt := views.WATemplateOption{ID: t.ID, Name: t.Name, Language: t.Language, Category: t.Category, Body: t.Body}
		for n := 1; n <= templateParamCount(t.Body); n++ {
			prm := views.WAParam{N: n}
			if n <= len(names) {
				prm.Name = names[n-1]
				prm.Value = values[prm.Name]
			}
			opt.Params = append(opt.Params, prm)
		}
		p.Templates = append(p.Templates, opt)
	}
	return p, nil
}

// renderWAPanel answers a composer or switch request: the panel for htmx, else back to the
// conversation's page (303), or the whole page with the panel's message when status is an
// error.
func (s *Server) renderWAPanel(c echo.Context, status int, id int64, edit func(p *views.WAPanel)) error {
	ctx := c.Request().Context()
	conv, err := s.Store.GetConversation(ctx, current(c).Workspace.ID, id)
	if err != nil {
		return err
	}
	if isFragment(c) {
		if status >= 400 {
			// htmx does not swap error answers: reload the page, which shows the window's state.
			c.Response().Header().Set("HX-Refresh", "true")
		}
		vars, err := s.Store.Variables(ctx, conv.WorkspaceID, conv.ID)
		if err != nil {
			return err
		}
		p, err := s.waPanel(c, conv, vars)
		if err != nil {
			return err
		}
		edit(p)
		return render(c, status, views.WhatsAppPanel(*p))
	}
	if status < 400 {
		return c.Redirect(http.StatusSeeOther, "/conversations/"+strconv.FormatInt(id, 10))
	}
	d, err := s.detailData(c, conv, true)
	if err != nil {
		return err
	}
	if d.WA != nil {
		edit(d.WA)
	}
	pg, err := s.page(c, conv.Customer, "conversations")
	if err != nil {
		return err
	}
	return render(c, status, views.ConversationPage(pg, d))
}

func (s *Server) loadWhatsAppConversation(c echo.Context) (*store.Conversation, error) {
	conv, err := s.loadConversation(c)
	if err != nil {
		return nil, err
	}
	if conv.Type != store.TypeWhatsApp {
		return nil, echo.NewHTTPError(http.StatusNotFound, "Not a WhatsApp conversation.")
	}
	return conv, nil
}

// waSend sends a human's message: free text only while the window is open in the database
// (the form is never trusted: 409 and nothing sent otherwise), or a template of the
// conversation's number with its parameters.
func (s *Server) waSend(c echo.Context) error {
	conv, err := s.loadWhatsAppConversation(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	key := strings.TrimSpace(c.FormValue("key"))
	if !sendKeyRe.MatchString(key) {
		key = newSendKey()
	}
	out := whatsapp.Outgoing{Key: fmt.Sprintf("%shuman:%d:%s", whatsapp.KeyPrefix, conv.ID, key), Role: "human"}
	switch c.FormValue("mode") {
	case "template":
		tid, _ := strconv.ParseInt(c.FormValue("template_id"), 10, 64)
		t, err := s.Store.WhatsAppTemplateByID(ctx, conv.WorkspaceID, tid)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (conv.AssistantID == nil || t.AssistantID != *conv.AssistantID)) {
			return s.renderWAPanel(c, http.StatusUnprocessableEntity, conv.ID, func(p *views.WAPanel) {
				p.Error = "Choose a template of this conversation's WhatsApp number."
			})
		}
		if err != nil {
			return err
		}
		n := templateParamCount(t.Body)
		params := make([]string, n)
		for i := range params {
			params[i] = strings.TrimSpace(c.FormValue("p" + strconv.Itoa(i+1)))
			if params[i] == "" || len(params[i]) > 1024 {
				return s.renderWAPanel(c, http.StatusUnprocessableEntity, conv.ID, func(p *views.WAPanel) {
					p.Error = fmt.Sprintf("Fill in parameter {{%d}} of the template (1 to 1024 characters).", i+1)
				})
			}
		}
		out.Template = &whatsapp.Template{Name: t.Name, Language: t.Language, BodyParams: params}
		out.Content = fillTemplate(t.Body, params)
	default:
		text := strings.TrimSpace(c.FormValue("content"))
		if text == "" || len([]rune(text)) > 4096 {
			return s.renderWAPanel(c, http.StatusUnprocessableEntity, conv.ID, func(p *views.WAPanel) {
				p.Error, p.Text = "Write a message of 1 to 4096 characters.", text
			})
		}
		// The database decides (loadConversation read it just now); Service.Send checks again
		// right before calling Meta.
		if !whatsapp.WindowOpen(conv, store.Now()) {
			return s.renderWAPanel(c, http.StatusConflict, conv.ID, func(p *views.WAPanel) {
				p.Error = "Not sent: the 24-hour window is closed, so WhatsApp only accepts approved template messages until the customer writes again."
			})
		}
		out.Content = text
	}
	_, err = s.waService().Send(ctx, conv, out)
	var se *whatsapp.SendError
	switch {
	case err == nil:
		return s.renderWAPanel(c, http.StatusOK, conv.ID, func(p *views.WAPanel) { p.Notice = "Sent." })
	case errors.Is(err, whatsapp.ErrWindowClosed):
		return s.renderWAPanel(c, http.StatusConflict, conv.ID, func(p *views.WAPanel) {
			p.Error = "Not sent: the 24-hour window closed meanwhile; only approved template messages can be sent."
		})
	case errors.As(err, &se):
		// The message shows Meta's reason in the timeline (status failed).
		return s.renderWAPanel(c, http.StatusOK, conv.ID, func(p *views.WAPanel) { p.Error = "Not sent: " + se.Reason })
	default:
		s.Log.Warn("whatsapp: human message not sent", "conversation_id", conv.ID, "err", err)
		return s.renderWAPanel(c, http.StatusOK, conv.ID, func(p *views.WAPanel) {
			p.Error = "WhatsApp did not take the message yet (" + err.Error() + "). Try again in a moment: the same message is not sent twice."
		})
	}
}

// waAI turns AI replies of a conversation on (enabled=1) or off (enabled=0).
func (s *Server) waAI(c echo.Context) error {
	conv, err := s.loadWhatsAppConversation(c)
	if err != nil {
		return err
	}
	on := c.FormValue("enabled") == "1"
	if err := s.Conversations.SetAIEnabled(c.Request().Context(), conv.WorkspaceID, conv.ID, on); err != nil {
		return err
	}
	return s.renderWAPanel(c, http.StatusOK, conv.ID, func(p *views.WAPanel) {
		if on {
			p.Notice = "AI replies are on."
		} else {
			p.Notice = "AI replies are off: the assistant will not answer this customer until you turn them on."
		}
	})
}

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
func validateTemplate(f *views.TemplateForm) map[string]string {
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
func (s *Server) templatesData(c echo.Context) (views.TemplatesData, error) {
	ctx := c.Request().Context()
	ws := current(c).Workspace.ID
	d := views.TemplatesData{CSRF: csrfToken(c), Errs: map[string]string{}}
	as, err := s.Store.Assistants(ctx, ws)
	if err != nil {
		return d, err
	}
	ts, err := s.Store.WhatsAppTemplates(ctx, ws, 0)
	if err != nil {
		return d, err
	}
	by := map[int64][]views.TemplateRow{}
	for _, t := range ts {
		by[t.AssistantID] = append(by[t.AssistantID], views.TemplateRow{ID: t.ID, Name: t.Name, Language: t.Language, Category: t.Category, Body: t.Body, Params: t.Params, Source: t.Source})
	}
	for i := range as {
		a := &as[i]
		if a.WhatsAppPhoneNumberID == nil || *a.WhatsAppPhoneNumberID == "" {
			continue
		}
		d.Numbers = append(d.Numbers, views.WANumber{
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
func (s *Server) waNumber(c echo.Context) (*store.Assistant, error) {
	id, _ := strconv.ParseInt(c.FormValue("assistant_id"), 10, 64)
	a, err := s.Store.AssistantByID(c.Request().Context(), current(c).Workspace.ID, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (a.WhatsAppPhoneNumberID == nil || *a.WhatsAppPhoneNumberID == "")) {
		return nil, store.ErrNotFound
	}
	return a, err
}

func (s *Server) waTemplateCreate(c echo.Context) error {
	f := views.TemplateForm{
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

func (s *Server) waTemplateDelete(c echo.Context) error {
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
	if !isFragment(c) {
		return c.Redirect(http.StatusSeeOther, "/settings#wa-templates")
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
func (s *Server) waWABASave(c echo.Context) error {
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
func (s *Server) waTemplatesFetch(c echo.Context) error {
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
			f := views.TemplateForm{Name: t.Name, Language: t.Language, Category: strings.ToUpper(t.Category), Body: t.Body}
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
