package store

import (
	"context"
	"errors"

	"github.com/parleyhq/parley/app/model"
)

// AnsweringAssistant is the assistant that answers conv, given its assistant row a (issue 15):
// the one rule for "who answers this conversation", which replies (app/chat) and its
// evaluation (app/evaluation) both follow. A Test Chat conversation is answered throughout by
// the version it was started with (a copy of the row overlaid with that version, Overlay);
// customer channels (widget, WhatsApp) by the published version at the time, which is the row
// a itself. A version that does not exist (a conversation may predate versions) answers with
// a. A nil a is nil.
func (s *Store) AnsweringAssistant(ctx context.Context, conv *Conversation, a *Assistant) (*Assistant, error) {
	if a == nil || conv.Type != model.TypeTest || conv.AssistantVersion == nil || *conv.AssistantVersion == a.AnsweringVersion() {
		return a, nil
	}
	v, err := s.AssistantVersionByNumber(ctx, a.WorkspaceID, a.ID, *conv.AssistantVersion)
	if errors.Is(err, ErrNotFound) {
		return a, nil
	}
	if err != nil {
		return nil, err
	}
	return v.Overlay(a), nil
}
