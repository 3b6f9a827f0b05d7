package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// ErrTemplateExists is a template whose (number, name, language) is already stored.
var ErrTemplateExists = errors.New("store: a template with this name and language exists for this number")

// WhatsAppTemplate is a WhatsApp message template of one number (assistant): its body holds
// parameters {{1}}, {{2}}, ... Params names, comma-separated and in order, the conversation
// variables that pre-fill them.
type WhatsAppTemplate struct {
	bun.BaseModel `bun:"table:whatsapp_templates"`
	ID            int64     `bun:"id,pk,autoincrement"`
	WorkspaceID   int64     `bun:"workspace_id"`
	AssistantID   int64     `bun:"assistant_id"`
	Name          string    `bun:"name"`
	Language      string    `bun:"language"`
	Category      string    `bun:"category"`
	Body          string    `bun:"body"`
	Params        string    `bun:"params"`
	Source        string    `bun:"source"` // "manual" or "meta"
	CreatedAt     time.Time `bun:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
}

// ParamNames is Params as a list (empty names kept, so that position i is {{i+1}}).
func (t *WhatsAppTemplate) ParamNames() []string {
	if strings.TrimSpace(t.Params) == "" {
		return nil
	}
	out := strings.Split(t.Params, ",")
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// WhatsAppTemplates lists the workspace's templates; assistantID > 0 keeps one number's.
func (s *Store) WhatsAppTemplates(ctx context.Context, workspaceID, assistantID int64) ([]WhatsAppTemplate, error) {
	var ts []WhatsAppTemplate
	q := s.DB.NewSelect().Model(&ts).Where("workspace_id = ?", workspaceID)
	if assistantID > 0 {
		q = q.Where("assistant_id = ?", assistantID)
	}
	err := q.Order("assistant_id ASC", "name ASC", "language ASC").Scan(ctx)
	return ts, err
}

// WhatsAppTemplateByID returns one template of the workspace.
func (s *Store) WhatsAppTemplateByID(ctx context.Context, workspaceID, id int64) (*WhatsAppTemplate, error) {
	t := new(WhatsAppTemplate)
	err := s.DB.NewSelect().Model(t).Where("id = ? AND workspace_id = ?", id, workspaceID).Scan(ctx)
	if err != nil {
		return nil, notFound(err)
	}
	return t, nil
}

// CreateWhatsAppTemplate stores a new template; ErrTemplateExists when its number already has
// one of that name and language.
func (s *Store) CreateWhatsAppTemplate(ctx context.Context, t *WhatsAppTemplate) error {
	t.CreatedAt = now()
	t.UpdatedAt = t.CreatedAt
	if t.Source == "" {
		t.Source = "manual"
	}
	if _, err := s.DB.NewInsert().Model(t).Returning("id").Exec(ctx); err != nil {
		if IsUniqueViolation(err) {
			return ErrTemplateExists
		}
		return err
	}
	return nil
}

// UpsertWhatsAppTemplates stores templates of one number (an assistant belongs to one
// workspace, so the conflict target never crosses workspaces), updating the category and body of
// those already stored under the same name and language (their params are kept). It returns
// how many rows were written.
func (s *Store) UpsertWhatsAppTemplates(ctx context.Context, ts []WhatsAppTemplate) (int, error) {
	n := 0
	for i := range ts {
		t := &ts[i]
		t.CreatedAt = now()
		t.UpdatedAt = t.CreatedAt
		if t.Source == "" {
			t.Source = "meta"
		}
		_, err := s.DB.NewInsert().Model(t).
			On("CONFLICT (assistant_id, name, language) DO UPDATE").
			Set("category = EXCLUDED.category").
			Set("body = EXCLUDED.body").
			Set("source = EXCLUDED.source").
			Set("updated_at = EXCLUDED.updated_at").
			Exec(ctx)
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// DeleteWhatsAppTemplate deletes a template of the workspace.
func (s *Store) DeleteWhatsAppTemplate(ctx context.Context, workspaceID, id int64) error {
	res, err := s.DB.NewDelete().Model((*WhatsAppTemplate)(nil)).Where("id = ? AND workspace_id = ?", id, workspaceID).Exec(ctx)
	if ok, err := affected(res, err); err != nil {
		return err
	} else if !ok {
		return ErrNotFound
	}
	return nil
}

// SetAIEnabled turns AI replies of a conversation on or off (a human takes over, or hands
// back), recording who did (by, a person's name) and when. The audit entries given are
// written in the same transaction.
func (s *Store) SetAIEnabled(ctx context.Context, workspaceID, conversationID int64, on bool, by string, audit ...*AuditEntry) error {
	return s.withAudit(ctx, audit, func(ctx context.Context, db bun.IDB) error {
		t := now()
		res, err := db.NewUpdate().Model((*Conversation)(nil)).Set("ai_enabled = ?", on).Set("updated_at = ?", t).
			Set("ai_changed_by = ?", by).Set("ai_changed_at = ?", t).
			Where("id = ? AND workspace_id = ?", conversationID, workspaceID).Exec(ctx)
		if ok, err := affected(res, err); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		return nil
	})
}
