package dashboard

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/views/pages"
)

// WhatsApp in the dashboard: the composer of a human and the AI switch on a conversation's
// page, and the templates of each WhatsApp number in Settings.

func (s *Handler) waService() *whatsapp.Service { return s.WhatsApp }

func newSendKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var sendKeyRe = regexp.MustCompile(`^[a-f0-9]{16,64}$`)

// waPanel is the WhatsApp panel of a conversation as the database has it now.
func (s *Handler) waPanel(c echo.Context, conv *store.Conversation, vars []store.ConversationVariable) (*pages.WAPanel, error) {
	ctx := c.Request().Context()
	now := store.Now()
	p := &pages.WAPanel{
		ConvID: conv.ID, CSRF: csrfToken(c), Open: whatsapp.WindowOpen(conv, now), AIEnabled: conv.AIEnabled, AIChangedBy: conv.AIChangedBy, AIChangedAt: conv.AIChangedAt, Key: newSendKey(),
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
		opt := pages.WATemplateOption{ID: t.ID, Name: t.Name, Language: t.Language, Category: t.Category, Body: t.Body}
		for n := 1; n <= whatsapp.TemplateParamCount(t.Body); n++ {
			prm := pages.WAParam{N: n}
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
func (s *Handler) renderWAPanel(c echo.Context, status int, id int64, edit func(p *pages.WAPanel)) error {
	ctx := c.Request().Context()
	conv, err := s.Store.GetConversation(ctx, current(c).Workspace.ID, id)
	if err != nil {
		return err
	}
	if htmx.IsFragment(c) {
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
		return htmx.Render(c, status, pages.WhatsAppPanel(*p))
	}
	if status < 400 {
		return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Conversation, id))
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
	return htmx.Render(c, status, pages.ConversationPage(pg, d))
}

func (s *Handler) loadWhatsAppConversation(c echo.Context) (*store.Conversation, error) {
	conv, err := s.loadConversation(c)
	if err != nil {
		return nil, err
	}
	if conv.Type != model.TypeWhatsApp {
		return nil, echo.NewHTTPError(http.StatusNotFound, "Not a WhatsApp conversation.")
	}
	return conv, nil
}

// waSend sends a human's message: free text only while the window is open in the database
// (the form is never trusted: 409 and nothing sent otherwise), or a template of the
// conversation's number with its parameters.
func (s *Handler) waSend(c echo.Context) error {
	conv, err := s.loadWhatsAppConversation(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	key := strings.TrimSpace(c.FormValue("key"))
	if !sendKeyRe.MatchString(key) {
		key = newSendKey()
	}
	me := current(c).User
	out := whatsapp.Outgoing{Key: fmt.Sprintf("%shuman:%d:%s", whatsapp.KeyPrefix, conv.ID, key), Role: "human",
		AuthorID: &me.ID, AuthorName: model.PersonName(me.Name, me.Email)}
	switch c.FormValue("mode") {
	case "template":
		tid, _ := strconv.ParseInt(c.FormValue("template_id"), 10, 64)
		t, err := s.Store.WhatsAppTemplateByID(ctx, conv.WorkspaceID, tid)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (conv.AssistantID == nil || t.AssistantID != *conv.AssistantID)) {
			return s.renderWAPanel(c, http.StatusUnprocessableEntity, conv.ID, func(p *pages.WAPanel) {
				p.Error = "Choose a template of this conversation's WhatsApp number."
			})
		}
		if err != nil {
			return err
		}
		n := whatsapp.TemplateParamCount(t.Body)
		params := make([]string, n)
		for i := range params {
			params[i] = strings.TrimSpace(c.FormValue("p" + strconv.Itoa(i+1)))
			if params[i] == "" || len(params[i]) > 1024 {
				return s.renderWAPanel(c, http.StatusUnprocessableEntity, conv.ID, func(p *pages.WAPanel) {
					p.Error = fmt.Sprintf("Fill in parameter {{%d}} of the template (1 to 1024 characters).", i+1)
				})
			}
		}
		out.Template = &whatsapp.Template{Name: t.Name, Language: t.Language, BodyParams: params}
		out.Content = whatsapp.FillTemplate(t.Body, params)
	default:
		text := strings.TrimSpace(c.FormValue("content"))
		if text == "" || len([]rune(text)) > 4096 {
			return s.renderWAPanel(c, http.StatusUnprocessableEntity, conv.ID, func(p *pages.WAPanel) {
				p.Error, p.Text = "Write a message of 1 to 4096 characters.", text
			})
		}
		// The database decides (loadConversation read it just now); Service.Send checks again
		// right before calling Meta.
		if !whatsapp.WindowOpen(conv, store.Now()) {
			return s.renderWAPanel(c, http.StatusConflict, conv.ID, func(p *pages.WAPanel) {
				p.Error = "Not sent: the 24-hour window is closed, so WhatsApp only accepts approved template messages until the customer writes again."
			})
		}
		out.Content = text
	}
	_, err = s.waService().Send(ctx, conv, out)
	var se *whatsapp.SendError
	switch {
	case err == nil:
		return s.renderWAPanel(c, http.StatusOK, conv.ID, func(p *pages.WAPanel) { p.Notice = "Sent." })
	case errors.Is(err, whatsapp.ErrWindowClosed):
		return s.renderWAPanel(c, http.StatusConflict, conv.ID, func(p *pages.WAPanel) {
			p.Error = "Not sent: the 24-hour window closed meanwhile; only approved template messages can be sent."
		})
	case errors.As(err, &se):
		// The message shows Meta's reason in the timeline (status failed).
		return s.renderWAPanel(c, http.StatusOK, conv.ID, func(p *pages.WAPanel) { p.Error = "Not sent: " + se.Reason })
	default:
		s.Log.Warn("whatsapp: human message not sent", "conversation_id", conv.ID, "err", err)
		return s.renderWAPanel(c, http.StatusOK, conv.ID, func(p *pages.WAPanel) {
			p.Error = "WhatsApp did not take the message yet (" + err.Error() + "). Try again in a moment: the same message is not sent twice."
		})
	}
}

// waAI turns AI replies of a conversation on (enabled=1) or off (enabled=0).
func (s *Handler) waAI(c echo.Context) error {
	conv, err := s.loadWhatsAppConversation(c)
	if err != nil {
		return err
	}
	on := c.FormValue("enabled") == "1"
	me := current(c).User
	if err := s.Conversations.SetAIEnabled(c.Request().Context(), conv.WorkspaceID, conv.ID, on, model.PersonName(me.Name, me.Email)); err != nil {
		return err
	}
	return s.renderWAPanel(c, http.StatusOK, conv.ID, func(p *pages.WAPanel) {
		if on {
			p.Notice = "AI replies are on."
		} else {
			p.Notice = "AI replies are off: the assistant will not answer this customer until you turn them on."
		}
	})
}
