package store

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/parleyhq/parley/app/model"
)

// LiveWidgetConversation returns a visitor's newest widget conversation with an assistant
// that has not ended (whether it idled out is the widget package's rule), or ErrNotFound.
// The visitor id is the conversation's customer; the lookup uses the (workspace, customer)
// index.
func (s *Store) LiveWidgetConversation(ctx context.Context, workspaceID, assistantID int64, visitor string) (*Conversation, error) {
	c := new(Conversation)
	err := s.DB.NewSelect().Model(c).
		Where("workspace_id = ? AND customer = ? AND assistant_id = ? AND type = ? AND ended_at IS NULL", workspaceID, visitor, assistantID, model.TypeWidget).
		Order("last_message_at DESC", "id DESC").Limit(1).Scan(ctx)
	if err != nil {
		return nil, notFound(err)
	}
	return c, nil
}

// WidgetConversation loads a widget conversation of the workspace and the assistant, or
// ErrNotFound (also when it exists with another type or assistant).
func (s *Store) WidgetConversation(ctx context.Context, workspaceID, assistantID, id int64) (*Conversation, error) {
	c := new(Conversation)
	err := s.DB.NewSelect().Model(c).
		Where("id = ? AND workspace_id = ? AND assistant_id = ? AND type = ?", id, workspaceID, assistantID, model.TypeWidget).Scan(ctx)
	if err != nil {
		return nil, notFound(err)
	}
	return c, nil
}

// AllowedOriginLists returns the allowed origins of enabled assistants whose list may hold
// origin (a text match on the JSON column; the caller compares exactly). It answers
// CORS preflights that name no assistant.
func (s *Store) AllowedOriginLists(ctx context.Context, origin string) ([]Origins, error) {
	// The column is written by json.Marshal, so the origin appears as json.Marshal writes it.
	raw, err := json.Marshal(origin)
	if err != nil {
		return nil, err
	}
	b := string(raw)
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(b)
	var lists []Origins
	err = s.DB.NewSelect().Model((*Assistant)(nil)).Column("allowed_origins").
		Where(`disabled = ? AND allowed_origins LIKE ? ESCAPE '\'`, false, "%"+esc+"%").
		Limit(20).Scan(ctx, &lists)
	return lists, err
}
