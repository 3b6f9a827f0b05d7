package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// PreviewLength is how many characters of the last message the list shows.
const PreviewLength = 140

// CreateConversation inserts a conversation and bumps its workspace's count in one transaction.
func (s *Store) CreateConversation(ctx context.Context, c *Conversation) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error { return s.createConversation(ctx, tx, c) })
}

// StartConversation creates a conversation with its first variables and its first message
// (each optional) in one transaction: a failure leaves nothing behind, never a conversation
// without the pre-chat answers it was started with.
func (s *Store) StartConversation(ctx context.Context, c *Conversation, vars []ConversationVariable, first *Message) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.createConversation(ctx, tx, c); err != nil {
			return err
		}
		for i := range vars {
			v := &vars[i]
			v.WorkspaceID, v.ConversationID = c.WorkspaceID, c.ID
			if err := s.setVariable(ctx, tx, v); err != nil {
				return err
			}
		}
		if first != nil {
			first.WorkspaceID, first.ConversationID = c.WorkspaceID, c.ID
			if _, err := s.addMessage(ctx, tx, first); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) createConversation(ctx context.Context, tx bun.IDB, c *Conversation) error {
	t := now()
	if c.StartedAt.IsZero() {
		c.StartedAt = t
	}
	c.StartedAt = c.StartedAt.UTC().Truncate(time.Microsecond)
	if c.LastMessageAt.IsZero() {
		c.LastMessageAt = c.StartedAt
	}
	c.LastMessageAt = c.LastMessageAt.UTC().Truncate(time.Microsecond)
	if c.Variables == "" {
		c.Variables = "{}"
	}
	if c.ReviewStatus == "" {
		c.ReviewStatus = model.ReviewUnreviewed // the column's default, which inserting "" would override
	}
	c.CreatedAt, c.UpdatedAt = t, t
	if _, err := tx.NewInsert().Model(c).Returning("id").Exec(ctx); err != nil {
		return err
	}
	return s.bumpCount(ctx, tx, c.WorkspaceID, c.Type, 1)
}

// FindOrCreateWhatsAppConversation returns the thread of (assistant, customer), creating it
// once even under concurrent calls (the partial unique index decides).
func (s *Store) FindOrCreateWhatsAppConversation(ctx context.Context, c *Conversation) (created bool, err error) {
	find := func() error {
		return s.DB.NewSelect().Model(c).
			Where("assistant_id = ? AND customer = ? AND type = 'whatsapp'", c.AssistantID, c.Customer).Scan(ctx)
	}
	if err := find(); err == nil {
		return false, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	c.Type = model.TypeWhatsApp
	err = s.CreateConversation(ctx, c)
	if IsUniqueViolation(err) {
		return false, find()
	}
	return err == nil, err
}

// lockConversation takes the conversation's row lock (FOR UPDATE, PostgreSQL) at the start of
// a transaction that adds rows referring to the conversation (messages, variables, ledger rows)
// and then updates the conversation. Without it, the foreign-key checks of those inserts take a
// KEY SHARE lock on the row first, and two such transactions that later upgrade to an update
// deadlock (seen under load: a reply and an extraction on one conversation). Taking the
// strongest lock first orders them. SQLite serialises writers already.
func (s *Store) lockConversation(ctx context.Context, tx bun.IDB, workspaceID, conversationID int64) error {
	sel := tx.NewSelect().Model((*Conversation)(nil)).Column("id").
		Where("id = ? AND workspace_id = ?", conversationID, workspaceID)
	if s.Dialect == Postgres {
		sel = sel.For("UPDATE")
	}
	var id int64
	return notFound(sel.Scan(ctx, &id))
}

// AddMessage stores a message and updates the conversation's stored list fields (preview,
// counts, last activity, tokens and cost) in the same transaction. A message whose
// provider_message_id is already stored is not inserted again: inserted=false. The audit
// entries given are written with a message that is inserted, in its transaction.
func (s *Store) AddMessage(ctx context.Context, m *Message, audit ...*AuditEntry) (inserted bool, err error) {
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.lockConversation(ctx, tx, m.WorkspaceID, m.ConversationID); err != nil {
			return err
		}
		inserted, err = s.addMessage(ctx, tx, m)
		if err != nil || !inserted {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
	return inserted, err
}

func (s *Store) addMessage(ctx context.Context, tx bun.IDB, m *Message) (bool, error) {
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now()
	}
	m.CreatedAt = m.CreatedAt.UTC().Truncate(time.Microsecond)
	if m.ContentType == "" {
		m.ContentType = "text"
	}
	q := tx.NewInsert().Model(m)
	if m.ProviderMessageID != nil {
		q = q.On("CONFLICT (provider_message_id) WHERE provider_message_id IS NOT NULL DO NOTHING")
	}
	res, err := q.Returning("id").Exec(ctx)
	if err != nil {
		return false, err
	}
	if m.ProviderMessageID != nil {
		if n, _ := res.RowsAffected(); n == 0 {
			return false, nil
		}
	}
	if m.ID == 0 {
		if err := tx.NewSelect().Model(m).Column("id").Where("provider_message_id = ?", *m.ProviderMessageID).Scan(ctx); err != nil {
			return false, err
		}
	}
	user := 0
	if m.Role == model.RoleUser {
		user = 1
	}
	up := tx.NewUpdate().Model((*Conversation)(nil)).
		Set("message_count = message_count + 1").
		Set("user_message_count = user_message_count + ?", user).
		Set("prompt_tokens = prompt_tokens + ?", m.PromptTokens).
		Set("cached_tokens = cached_tokens + ?", m.CachedTokens).
		Set("completion_tokens = completion_tokens + ?", m.CompletionTokens).
		Set("cost_nanos = cost_nanos + ?", m.CostNanos).
		Set("updated_at = ?", now()).
		// The preview follows the newest message; an older message arriving late changes only counts.
		Set("last_message_preview = CASE WHEN ? >= last_message_at THEN ? ELSE last_message_preview END", m.CreatedAt, Preview(m.Content)).
		Set("last_message_role = CASE WHEN ? >= last_message_at THEN ? ELSE last_message_role END", m.CreatedAt, m.Role).
		Set("last_message_at = CASE WHEN ? > last_message_at THEN ? ELSE last_message_at END", m.CreatedAt, m.CreatedAt).
		Where("id = ? AND workspace_id = ?", m.ConversationID, m.WorkspaceID)
	if m.Role == model.RoleUser {
		up = up.Set("last_inbound_at = CASE WHEN last_inbound_at IS NULL OR ? > last_inbound_at THEN ? ELSE last_inbound_at END", m.CreatedAt, m.CreatedAt).
			// A customer message written after the end reopens the conversation (its next end
			// is evaluated again); one written before it and delivered late does not.
			Set("end_reason = CASE WHEN ended_at IS NOT NULL AND ? < ended_at THEN end_reason ELSE '' END", m.CreatedAt).
			Set("ended_at = CASE WHEN ended_at IS NOT NULL AND ? < ended_at THEN ended_at ELSE NULL END", m.CreatedAt)
	}
	res, err = up.Exec(ctx)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, ErrNotFound
	}
	return true, markAnswered(ctx, tx, m)
}

// Preview shortens a message for the list: one line, at most PreviewLength characters.
func Preview(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= PreviewLength {
		return s
	}
	r := []rune(s)
	return string(r[:PreviewLength-1]) + "…"
}

// SetVariable stores (or replaces) a conversation variable and refreshes the conversation's
// variables object used by the list, in one transaction.
func (s *Store) SetVariable(ctx context.Context, v *ConversationVariable) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.lockConversation(ctx, tx, v.WorkspaceID, v.ConversationID); err != nil {
			return err
		}
		return s.setVariable(ctx, tx, v)
	})
}

func (s *Store) setVariable(ctx context.Context, tx bun.IDB, v *ConversationVariable) error {
	t := now()
	if v.CreatedAt.IsZero() {
		v.CreatedAt = t
	}
	v.UpdatedAt = t
	if _, err := tx.NewInsert().Model(v).
		On("CONFLICT (conversation_id, name) DO UPDATE").
		Set("value = EXCLUDED.value").Set("source = EXCLUDED.source").
		Set("message_id = EXCLUDED.message_id").Set("updated_at = EXCLUDED.updated_at").
		Exec(ctx); err != nil {
		return err
	}
	var raw string
	sel := tx.NewSelect().Model((*Conversation)(nil)).Column("variables").
		Where("id = ? AND workspace_id = ?", v.ConversationID, v.WorkspaceID)
	if s.Dialect == Postgres { // SQLite serialises writers already
		sel = sel.For("UPDATE")
	}
	if err := sel.Scan(ctx, &raw); err != nil {
		return notFound(err)
	}
	vars := decodeVariableMap(raw)
	vars[v.Name] = v.Value
	b, _ := json.Marshal(vars)
	_, err := tx.NewUpdate().Model((*Conversation)(nil)).Set("variables = ?", string(b)).Set("updated_at = ?", t).
		Where("id = ? AND workspace_id = ?", v.ConversationID, v.WorkspaceID).Exec(ctx)
	return err
}

// GetConversation loads one conversation of the workspace, with its assistant's name.
func (s *Store) GetConversation(ctx context.Context, workspaceID, id int64) (*Conversation, error) {
	c := new(Conversation)
	err := s.DB.NewSelect().Model(c).
		ColumnExpr("c.*").ColumnExpr("COALESCE(a.name, '') AS assistant_name").
		ModelTableExpr("conversations AS c").
		Join("LEFT JOIN assistants AS a ON a.id = c.assistant_id AND a.workspace_id = c.workspace_id").
		Where("c.id = ? AND c.workspace_id = ?", id, workspaceID).Scan(ctx)
	if err != nil {
		return nil, notFound(err)
	}
	return c, nil
}

// DeleteConversation deletes a conversation (messages, variables, extraction record and raw
// inbound events cascade: see erasure.go) and keeps the counts right, in one transaction.
// The audit entries given are written in the same transaction.
func (s *Store) DeleteConversation(ctx context.Context, workspaceID, id int64, audit ...*AuditEntry) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := deleteConversationReplays(ctx, tx, workspaceID, id); err != nil { // issue 15
			return err
		}
		var typ string
		err := tx.NewDelete().Model((*Conversation)(nil)).Where("id = ? AND workspace_id = ?", id, workspaceID).
			Returning("type").Scan(ctx, &typ)
		if err != nil {
			return notFound(err)
		}
		if err := s.bumpCount(ctx, tx, workspaceID, typ, -1); err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
}

// MessagePage is a slice of a conversation's timeline, oldest first.
type MessagePage struct {
	Messages []Message
	// HasOlder reports messages before the first one; OlderCursor fetches them.
	HasOlder    bool
	OlderCursor string
}

// Messages returns up to limit messages of a conversation, the newest ones, or the ones
// before the cursor; always oldest first.
func (s *Store) Messages(ctx context.Context, workspaceID, conversationID int64, before string, limit int) (MessagePage, error) {
	var page MessagePage
	q := s.DB.NewSelect().Model(&page.Messages).
		Where("workspace_id = ? AND conversation_id = ?", workspaceID, conversationID).
		Order("created_at DESC", "id DESC").Limit(int64(limit + 1))
	if before != "" {
		k, err := DecodeCursor(before)
		if err != nil || k.Sort != "msg" {
			return page, ErrBadCursor
		}
		q = q.Where("(created_at, id) < (?, ?)", k.Time, k.ID)
	}
	if err := q.Scan(ctx); err != nil {
		return page, err
	}
	if len(page.Messages) > limit {
		page.HasOlder = true
		page.Messages = page.Messages[:limit]
	}
	for i, j := 0, len(page.Messages)-1; i < j; i, j = i+1, j-1 {
		page.Messages[i], page.Messages[j] = page.Messages[j], page.Messages[i]
	}
	if page.HasOlder {
		first := page.Messages[0]
		page.OlderCursor = Cursor{Sort: "msg", Time: first.CreatedAt, ID: first.ID}.Encode()
	}
	return page, nil
}

// AllMessages calls fn for every message of a conversation, oldest first, in batches.
func (s *Store) AllMessages(ctx context.Context, workspaceID, conversationID int64, fn func(*Message) error) error {
	var last *Message
	for {
		var batch []Message
		q := s.DB.NewSelect().Model(&batch).Where("workspace_id = ? AND conversation_id = ?", workspaceID, conversationID).
			Order("created_at ASC", "id ASC").Limit(500)
		if last != nil {
			q = q.Where("(created_at, id) > (?, ?)", last.CreatedAt, last.ID)
		}
		if err := q.Scan(ctx); err != nil {
			return err
		}
		for i := range batch {
			if err := fn(&batch[i]); err != nil {
				return err
			}
		}
		if len(batch) < 500 {
			return nil
		}
		last = &batch[len(batch)-1]
	}
}

// MessageByID loads one message of the workspace.
func (s *Store) MessageByID(ctx context.Context, workspaceID, id int64) (*Message, error) {
	m := new(Message)
	if err := s.DB.NewSelect().Model(m).Where("id = ? AND workspace_id = ?", id, workspaceID).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return m, nil
}

// Variables lists a conversation's variables by name.
func (s *Store) Variables(ctx context.Context, workspaceID, conversationID int64) ([]ConversationVariable, error) {
	var vs []ConversationVariable
	err := s.DB.NewSelect().Model(&vs).Where("workspace_id = ? AND conversation_id = ?", workspaceID, conversationID).
		Order("name ASC").Scan(ctx)
	return vs, err
}

// VariableNames lists the distinct variable names used in a workspace (for the filter form).
// A loose index scan (a recursive CTE hopping along the (workspace_id, name, value) index)
// reads one index entry per name, not every variable row: 0.1 ms instead of ~40 ms with
// 400,000 variables.
func (s *Store) VariableNames(ctx context.Context, workspaceID int64) ([]string, error) {
	var names []string
	err := s.DB.NewRaw(`WITH RECURSIVE t(name) AS (
		SELECT name FROM (SELECT name FROM conversation_variables WHERE workspace_id = ? ORDER BY name LIMIT 1) AS first
		UNION ALL
		SELECT (SELECT v.name FROM conversation_variables AS v WHERE v.workspace_id = ? AND v.name > t.name ORDER BY v.name LIMIT 1)
		FROM t WHERE t.name IS NOT NULL
	)
	SELECT name FROM t WHERE name IS NOT NULL LIMIT 200`, workspaceID, workspaceID).Scan(ctx, &names)
	return names, err
}
