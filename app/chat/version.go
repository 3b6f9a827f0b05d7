package chat

import (
	"context"
	"errors"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Answering is the assistant that answers conv (issue 15): a Test Chat conversation is
// answered throughout by the version it was started with (the row overlaid with that
// version); customer channels (widget, WhatsApp) by the published version at the time of the
// reply, which is the row a itself. A version that no longer exists (it cannot be deleted,
// but a conversation may predate versions) answers with a.
func (r *Responder) Answering(ctx context.Context, conv *store.Conversation, a *store.Assistant) (*store.Assistant, error) {
	if conv.Type != model.TypeTest || conv.AssistantVersion == nil || *conv.AssistantVersion == a.AnsweringVersion() {
		return a, nil
	}
	v, err := r.Store.AssistantVersionByNumber(ctx, a.WorkspaceID, a.ID, *conv.AssistantVersion)
	if errors.Is(err, store.ErrNotFound) {
		return a, nil
	}
	if err != nil {
		return nil, err
	}
	return v.Overlay(a), nil
}
