package dashboard

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/sse"
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/views/components"
	"github.com/parleyhq/parley/views/layouts"
	"github.com/parleyhq/parley/views/pages"
)

// sseKeepAlive is how often an idle stream sends a comment, so proxies keep it open and a
// closed tab is noticed.
var sseKeepAlive = 25 * time.Second

// maxStreamsPerUser is how many live streams one user keeps open in one web process; a
// newer one ends the oldest.
const maxStreamsPerUser = 8

// sseStream writes server-sent events until the browser goes away, or until the user opens
// more than maxStreamsPerUser streams and this is the oldest. Each workspace event is turned
// into HTML by render (nil: nothing to send).
func (s *Handler) sseStream(c echo.Context, render func(ctx context.Context, ev events.Event) (templ.Component, error)) error {
	ws := current(c).Workspace.ID
	ctx := c.Request().Context()
	pushedOut, done := s.streams.Open(strconv.FormatInt(current(c).User.ID, 10), maxStreamsPerUser)
	defer done()
	// Subscribe before answering, so that nothing published after the browser sees the
	// stream open is missed.
	ch, release := s.Events.Subscribe(ws)
	defer release()
	stream := sse.Start(c)
	_ = stream.Raw("retry: 3000\n\n")

	tick := time.NewTicker(sseKeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.Closing:
			return nil
		case <-pushedOut:
			return nil
		case <-tick.C:
			if err := stream.Raw(": keep-alive\n\n"); err != nil {
				return nil
			}
		case ev, ok := <-ch:
			if !ok {
				return nil
			}
			comp, err := render(ctx, ev)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.Log.Warn("live update render", "err", err, "kind", ev.Kind)
				continue
			}
			if comp == nil {
				continue
			}
			var buf bytes.Buffer
			if err := comp.Render(ctx, &buf); err != nil {
				continue
			}
			if err := stream.Send("update", buf.String()); err != nil {
				return nil
			}
		}
	}
}

// conversationsEvents streams list updates for the filters in the URL: changed rows move to
// the top (or update in place when sorted by cost), rows that match no more disappear,
// deleted ones are removed, and the nav badge follows the counts.
func (s *Handler) conversationsEvents(c echo.Context) error {
	ws := current(c).Workspace.ID
	q, f, err := conversation.ParseQueryFor(c.QueryParams(), time.Now(), current(c).User.ID)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	from := q.Values().Encode() // issue 14: review: the rows' links carry the list's query
	byLast := f.SortKey() == "last"
	userID := current(c).User.ID
	return s.sseStream(c, func(ctx context.Context, ev events.Event) (templ.Component, error) {
		switch ev.Kind {
		case events.CountsChanged:
			counts, err := s.Store.ConversationCounts(ctx, ws)
			if err != nil {
				return nil, err
			}
			views, err := s.navViews(ctx, ws, userID)
			if err != nil {
				return nil, err
			}
			return pages.ListViewsUpdate(nil, 0, false, counts.Total, true, views), nil
		case events.ConversationDeleted:
			return pages.ListUpdate(nil, ev.ConversationID, false, 0, false), nil
		case events.ConversationChanged, events.MessageAdded:
			one := f
			one.IDs = []int64{ev.ConversationID}
			rows, _, err := s.Store.ListConversations(ctx, ws, one, "", 1)
			if err != nil {
				return nil, err
			}
			// A change of the conversation (its review, evaluation, assignee) may move it
			// in or out of saved views: their counts follow (bounded counts, see Views).
			var views []layouts.NavView
			if ev.Kind == events.ConversationChanged {
				if views, err = s.navViews(ctx, ws, userID); err != nil {
					return nil, err
				}
			}
			if len(rows) == 0 {
				return pages.ListViewsUpdate(nil, ev.ConversationID, false, 0, false, views), nil
			}
			r := rowOf(&rows[0], time.Now())
			r.From = from
			return pages.ListViewsUpdate(&r, 0, byLast, 0, false, views), nil
		}
		return nil, nil
	})
}

// conversationEvents streams one conversation's new messages and changed information.
func (s *Handler) conversationEvents(c echo.Context) error {
	conv, err := s.loadConversation(c)
	if err != nil {
		return err
	}
	ws, id := conv.WorkspaceID, conv.ID
	userID := current(c).User.ID
	// The WhatsApp panel as the page shows it: replaced only when what it offers changes (the
	// window opened or closed, AI switched), so that a reply being typed is not wiped by every
	// message that arrives.
	open, ai := whatsapp.WindowOpen(conv, store.Now()), conv.AIEnabled
	// The evaluation panel likewise, when its evaluation changed (an open history stays open).
	evalSig := ""
	if p, err := s.evalPanel(c.Request().Context(), conv, ""); err == nil {
		evalSig = evalSignature(p)
	}
	return s.sseStream(c, func(ctx context.Context, ev events.Event) (templ.Component, error) {
		if ev.Kind == events.CountsChanged {
			counts, err := s.Store.ConversationCounts(ctx, ws)
			if err != nil {
				return nil, err
			}
			views, err := s.navViews(ctx, ws, userID)
			if err != nil {
				return nil, err
			}
			return templ.Join(pages.DetailUpdate(nil, nil, counts.Total, true), layouts.NavViews(views, true)), nil
		}
		if ev.ConversationID != id || ev.Kind == events.ConversationDeleted {
			return nil, nil
		}
		cur, err := s.Store.GetConversation(ctx, ws, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		d, err := s.detailData(c, cur, false)
		if err != nil {
			return nil, err
		}
		if d.WA != nil && (d.WA.Open != open || d.WA.AIEnabled != ai) {
			d.WA.OOB = true
			open, ai = d.WA.Open, d.WA.AIEnabled
		}
		if sig := evalSignature(d.Evaluation); sig != evalSig {
			d.Evaluation.OOB, evalSig = true, sig
		}
		var msgs []components.MsgView
		if ev.Kind == events.MessageAdded && ev.MessageID > 0 {
			m, err := s.Store.MessageByID(ctx, ws, ev.MessageID)
			if err == nil && m.ConversationID == id {
				msgs = append(msgs, msgView(m))
			}
		}
		reviewMessages(c, cur, nil, msgs) // issue 14: review: a new message's actions
		if ev.Kind == events.ConversationChanged {
			// Its review or evaluation may move it in or out of saved views.
			views, err := s.navViews(ctx, ws, userID)
			if err != nil {
				return nil, err
			}
			return templ.Join(pages.DetailUpdate(msgs, &d, 0, false), layouts.NavViews(views, true)), nil
		}
		return pages.DetailUpdate(msgs, &d, 0, false), nil
	})
}
