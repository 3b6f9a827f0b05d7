package conversation

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// The customer's own verdict (issue 14, items 7 and 8): feedback on the answers it got, and
// a CSAT score once per end of the conversation. The rules live here; the widget's API and
// the WhatsApp webhook call them.

// MaxVerdictComment bounds the comment of a feedback or of a CSAT score (characters).
const MaxVerdictComment = 500

// Feedback stores the customer's rating (model.FeedbackUp, FeedbackDown) of message
// messageID of conv, with an optional comment; a second call replaces the first. The message
// must be one of conv's answers (an assistant's or a person of the team's): another
// conversation's or an unknown one is store.ErrNotFound, a customer's own message a
// *FieldError naming message_id. A wrong rating or comment is a *FieldError naming it.
func (s *Service) Feedback(ctx context.Context, conv *store.Conversation, messageID int64, rating, comment string) (*store.MessageFeedback, error) {
	if !slices.Contains([]string{model.FeedbackUp, model.FeedbackDown}, rating) {
		return nil, &FieldError{Param: "rating", Msg: `must be "up" or "down"`}
	}
	comment = strings.TrimSpace(comment)
	if utf8.RuneCountInString(comment) > MaxVerdictComment {
		return nil, &FieldError{Param: "comment", Msg: "must be at most 500 characters"}
	}
	if messageID <= 0 {
		return nil, store.ErrNotFound
	}
	m, err := s.Store.MessageByID(ctx, conv.WorkspaceID, messageID)
	if err != nil {
		return nil, err
	}
	if m.ConversationID != conv.ID {
		return nil, store.ErrNotFound
	}
	if !slices.Contains(model.ReplyRoles, m.Role) {
		return nil, &FieldError{Param: "message_id", Msg: "feedback is for the assistant's answers, not for the customer's own messages"}
	}
	f := &store.MessageFeedback{MessageID: m.ID, WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, Rating: rating, Comment: comment}
	if err := s.Store.SaveFeedback(ctx, f); err != nil {
		return nil, err
	}
	s.changed(ctx, conv.WorkspaceID, conv.ID)
	return f, nil
}

// ValidCSAT checks a CSAT score (model.CSATMin to CSATMax) and its comment, returning the
// comment trimmed; a wrong one is a *FieldError naming "score" or "comment".
func ValidCSAT(score int, comment string) (string, error) {
	if score < model.CSATMin || score > model.CSATMax {
		return "", &FieldError{Param: "score", Msg: "must be an integer from 1 to 5"}
	}
	comment = strings.TrimSpace(comment)
	if utf8.RuneCountInString(comment) > MaxVerdictComment {
		return "", &FieldError{Param: "comment", Msg: "must be at most 500 characters"}
	}
	return comment, nil
}

// RateEnded records the customer's CSAT score for the end conv is in now (the widget's
// question after "End chat"): store.ErrNotEnded while it is open, store.ErrCSATGiven for a
// second score for the same end.
func (s *Service) RateEnded(ctx context.Context, conv *store.Conversation, score int, comment string) error {
	comment, err := ValidCSAT(score, comment)
	if err != nil {
		return err
	}
	if conv.EndedAt == nil || conv.EndCount == 0 {
		return store.ErrNotEnded
	}
	if err := s.Store.RecordCSAT(ctx, conv.WorkspaceID, conv.ID, conv.EndCount, score, comment, true, time.Time{}); err != nil {
		return err
	}
	s.changed(ctx, conv.WorkspaceID, conv.ID)
	return nil
}

// RateEnd records the customer's CSAT score for end seq of a conversation (a WhatsApp tap on
// the question sent at that end): store.ErrNotEnded when seq is no longer its latest end,
// store.ErrCSATGiven for a second tap.
func (s *Service) RateEnd(ctx context.Context, workspaceID, id int64, seq, score int, at time.Time) error {
	if _, err := ValidCSAT(score, ""); err != nil {
		return err
	}
	if err := s.Store.RecordCSAT(ctx, workspaceID, id, seq, score, "", false, at); err != nil {
		return err
	}
	s.changed(ctx, workspaceID, id)
	return nil
}
