package dashboard

import (
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/pages"
)

// endView is whether conv is open or ended, for its pages.
func endView(c echo.Context, conv *store.Conversation) pages.EndView {
	return pages.EndView{ID: conv.ID, EndedAt: conv.EndedAt, ReasonLabel: conversation.EndReasonLabel(conv.EndReason),
		Count: conv.EndCount, CSRF: csrfToken(c)}
}

// conversationEnd ends a conversation (reason "agent", audited as the member's doing) and
// goes back to its page; an ended one is left as it is.
func (s *Handler) conversationEnd(c echo.Context) error {
	conv, err := s.loadConversation(c)
	if err != nil {
		return err
	}
	if _, err := s.Conversations.End(c.Request().Context(), conv.WorkspaceID, conv.ID, model.EndAgent, time.Time{}); err != nil {
		return err
	}
	return htmx.Redirect(c, routenames.URL(routenames.Conversation, conv.ID))
}

// testChatClose ends a Test Chat session (reason "closed") and goes back to it.
func (s *Handler) testChatClose(c echo.Context) error {
	conv, _, err := s.loadTestConversation(c)
	if err != nil {
		return err
	}
	if _, err := s.Conversations.End(c.Request().Context(), conv.WorkspaceID, conv.ID, model.EndClosed, time.Time{}); err != nil {
		return err
	}
	return htmx.Redirect(c, routenames.URL(routenames.TestChatSession, conv.ID))
}
