package dashboard

import (
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/views/components"
	"github.com/parleyhq/parley/views/pages"
)

// The customer's own verdict on the conversation page (issue 14): the CSAT in the header and
// the thumbs on each answer.

// csatView is the conversation's CSAT for its page, or nil before the customer gave one.
func csatView(conv *store.Conversation) *pages.CSATView {
	if conv.CSATScore == nil {
		return nil
	}
	v := &pages.CSATView{Score: *conv.CSATScore, Comment: conv.CSATComment}
	if conv.CSATAt != nil {
		v.At = *conv.CSATAt
	}
	return v
}

// withFeedback sets the customer's feedback on a message view from fb (store.Feedback's map,
// read once for the page).
func withFeedback(v components.MsgView, fb map[int64]store.MessageFeedback) components.MsgView {
	if f, ok := fb[v.ID]; ok {
		v.Feedback = &components.FeedbackView{Rating: f.Rating, Comment: f.Comment}
	}
	return v
}
