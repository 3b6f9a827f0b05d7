package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"
)

// The review workflow's storage (issue 14 item 4): a conversation's review state and
// assignee, the workspace's tags and the conversations' tags, internal notes and corrections
// of assistant messages. app/review decides (validation, who acts); this file keeps the
// rules a concurrent change could break: an assignee is a member when assigned, a note's
// message is of its conversation, a correction is on an assistant message of its
// conversation, a tag name is unique per workspace (name_key). Each write is one transaction
// with its audit entries.

// ErrNotMember is an assignee who is not a member of the conversation's workspace.
var ErrNotMember = errors.New("not a member of the workspace")

// ErrWrongMessage is a message that is not one of the conversation's (or, for a correction,
// not an assistant's message).
var ErrWrongMessage = errors.New("not a message of the conversation")

// ReviewChange is a change of a conversation's review: Status ("" leaves it), and the
// assignee when SetAssignee (AssigneeID nil unassigns). ByID/ByName is the reviewer recorded
// with a status (ByID nil for an API key), At the time.
type ReviewChange struct {
	Status      string
	SetAssignee bool
	AssigneeID  *int64
	ByID        *int64
	ByName      string
	At          time.Time
	// Unreviewed is the status that clears the reviewer and time (model.ReviewUnreviewed).
	Unreviewed string
}

// UpdateReview applies ch to conversation id of the workspace in one transaction with the
// audit entries: ErrNotFound for no such conversation, ErrNotMember for an assignee who is
// not a member (checked in the same statement that assigns, so a member removed meanwhile is
// never assigned).
func (s *Store) UpdateReview(ctx context.Context, workspaceID, id int64, ch ReviewChange, entries ...*AuditEntry) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := conversationExists(ctx, tx, workspaceID, id); err != nil {
			return err
		}
		at := ch.At.UTC().Truncate(time.Microsecond)
		if ch.Status != "" {
			q := tx.NewUpdate().Model((*Conversation)(nil)).Set("review_status = ?", ch.Status).Set("updated_at = ?", at)
			if ch.Status == ch.Unreviewed {
				q = q.Set("reviewed_by_id = NULL").Set("reviewed_by = ''").Set("reviewed_at = NULL")
			} else {
				q = q.Set("reviewed_by_id = ?", ch.ByID).Set("reviewed_by = ?", ch.ByName).Set("reviewed_at = ?", at)
			}
			if _, err := q.Where("id = ? AND workspace_id = ?", id, workspaceID).Exec(ctx); err != nil {
				return err
			}
		}
		if ch.SetAssignee {
			q := tx.NewUpdate().Model((*Conversation)(nil)).Set("assignee_id = ?", ch.AssigneeID).Set("updated_at = ?", at).
				Where("id = ? AND workspace_id = ?", id, workspaceID)
			if ch.AssigneeID != nil {
				q = q.Where("EXISTS (SELECT 1 FROM memberships AS m WHERE m.workspace_id = ? AND m.user_id = ?)", workspaceID, *ch.AssigneeID)
			}
			res, err := q.Exec(ctx)
			if ok, err := affected(res, err); err != nil {
				return err
			} else if !ok {
				return ErrNotMember
			}
		}
		return insertAudit(ctx, tx, entries)
	})
}

func conversationExists(ctx context.Context, db bun.IDB, workspaceID, id int64) error {
	n, err := db.NewSelect().TableExpr("conversations").Where("id = ? AND workspace_id = ?", id, workspaceID).Count(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// MembersByID is the members of the workspace among ids (one query), by user id: the
// assignees of a page of conversations. A user who is no longer a member is left out.
func (s *Store) MembersByID(ctx context.Context, workspaceID int64, ids []int64) (map[int64]Member, error) {
	out := map[int64]Member{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []Member
	if err := s.membersQuery(workspaceID).Where("m.user_id IN (?)", bun.List(ids)).Scan(ctx, &rows); err != nil {
		return nil, err
	}
	for _, m := range rows {
		out[m.UserID] = m
	}
	return out, nil
}

// MemberByEmail is the member of the workspace with the email (case-insensitive), or
// ErrNotFound.
func (s *Store) MemberByEmail(ctx context.Context, workspaceID int64, email string) (*Member, error) {
	var out []Member
	if err := s.membersQuery(workspaceID).Where("lower(u.email) = lower(?)", email).Limit(1).Scan(ctx, &out); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return &out[0], nil
}

// ---- tags ----

// Tags lists the workspace's tags by name.
func (s *Store) Tags(ctx context.Context, workspaceID int64) ([]Tag, error) {
	var out []Tag
	err := s.DB.NewSelect().Model(&out).Where("workspace_id = ?", workspaceID).OrderExpr("name_key, id").Scan(ctx)
	return out, err
}

// TagByID is a tag of the workspace, or ErrNotFound.
func (s *Store) TagByID(ctx context.Context, workspaceID, id int64) (*Tag, error) {
	t := new(Tag)
	if err := s.DB.NewSelect().Model(t).Where("id = ? AND workspace_id = ?", id, workspaceID).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return t, nil
}

// CreateTag stores a new tag (ErrConflict when its name_key is taken), with its audit entries.
func (s *Store) CreateTag(ctx context.Context, t *Tag, entries ...*AuditEntry) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		t.CreatedAt = now()
		res, err := tx.NewInsert().Model(t).ExcludeColumn("id").On("CONFLICT (workspace_id, name_key) DO NOTHING").Returning("id").Exec(ctx)
		if ok, err := affected(res, err); err != nil {
			return err
		} else if !ok {
			return ErrConflict
		}
		if t.ID == 0 {
			if err := tx.NewSelect().Model((*Tag)(nil)).Column("id").Where("workspace_id = ? AND name_key = ?", t.WorkspaceID, t.NameKey).Scan(ctx, &t.ID); err != nil {
				return err
			}
		}
		fillTarget(entries, t.ID)
		return insertAudit(ctx, tx, entries)
	})
}

// UpdateTag renames and recolours a tag of the workspace: ErrNotFound, or ErrConflict when
// the new name is another tag's.
func (s *Store) UpdateTag(ctx context.Context, t *Tag, entries ...*AuditEntry) error {
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*Tag)(nil)).Set("name = ?", t.Name).Set("name_key = ?", t.NameKey).Set("color = ?", t.Color).
			Where("id = ? AND workspace_id = ?", t.ID, t.WorkspaceID).Exec(ctx)
		if ok, err := affected(res, err); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		return insertAudit(ctx, tx, entries)
	})
	if IsUniqueViolation(err) {
		return ErrConflict
	}
	return err
}

// DeleteTag deletes a tag of the workspace and takes it off every conversation, in one
// transaction with the audit entries (ErrNotFound for no such tag).
func (s *Store) DeleteTag(ctx context.Context, workspaceID, id int64, entries ...*AuditEntry) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*ConversationTag)(nil)).Where("tag_id = ? AND workspace_id = ?", id, workspaceID).Exec(ctx); err != nil {
			return err
		}
		res, err := tx.NewDelete().Model((*Tag)(nil)).Where("id = ? AND workspace_id = ?", id, workspaceID).Exec(ctx)
		if ok, err := affected(res, err); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		return insertAudit(ctx, tx, entries)
	})
}

// TagConversation puts the tag named by key on the conversation, creating the tag (with
// name and color) when the workspace has none of that key; one transaction. added is false
// when the conversation had it already (nothing changes then, and no entry is written).
func (s *Store) TagConversation(ctx context.Context, workspaceID, conversationID int64, name, key, color string, entries ...*AuditEntry) (tag *Tag, added bool, err error) {
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := conversationExists(ctx, tx, workspaceID, conversationID); err != nil {
			return err
		}
		t := now()
		nt := &Tag{WorkspaceID: workspaceID, Name: name, NameKey: key, Color: color, CreatedAt: t}
		if _, err := tx.NewInsert().Model(nt).ExcludeColumn("id").On("CONFLICT (workspace_id, name_key) DO NOTHING").Exec(ctx); err != nil {
			return err
		}
		tag = new(Tag)
		if err := tx.NewSelect().Model(tag).Where("workspace_id = ? AND name_key = ?", workspaceID, key).Scan(ctx); err != nil {
			return err
		}
		ct := &ConversationTag{WorkspaceID: workspaceID, ConversationID: conversationID, TagID: tag.ID, CreatedAt: t}
		res, err := tx.NewInsert().Model(ct).On("CONFLICT (conversation_id, tag_id) DO NOTHING").Exec(ctx)
		if added, err = affected(res, err); err != nil || !added {
			return err
		}
		return insertAudit(ctx, tx, entries)
	})
	return tag, added, err
}

// UntagConversation takes the tag named by key off the conversation; removed is false when
// it did not have it (or the workspace has no such tag). ErrNotFound for no such conversation.
func (s *Store) UntagConversation(ctx context.Context, workspaceID, conversationID int64, key string, entries ...*AuditEntry) (removed bool, err error) {
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := conversationExists(ctx, tx, workspaceID, conversationID); err != nil {
			return err
		}
		res, err := tx.NewDelete().Model((*ConversationTag)(nil)).
			Where("workspace_id = ? AND conversation_id = ?", workspaceID, conversationID).
			Where("tag_id IN (SELECT t.id FROM tags AS t WHERE t.workspace_id = ? AND t.name_key = ?)", workspaceID, key).Exec(ctx)
		if removed, err = affected(res, err); err != nil || !removed {
			return err
		}
		return insertAudit(ctx, tx, entries)
	})
	return removed, err
}

// ConversationTags is the tags of each of the conversations ids (one query), by name.
func (s *Store) ConversationTags(ctx context.Context, workspaceID int64, ids []int64) (map[int64][]Tag, error) {
	out := map[int64][]Tag{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ConversationID int64  `bun:"conversation_id"`
		ID             int64  `bun:"id"`
		Name           string `bun:"name"`
		Color          string `bun:"color"`
	}
	err := s.DB.NewSelect().TableExpr("conversation_tags AS ct").
		Join("JOIN tags AS t ON t.id = ct.tag_id AND t.workspace_id = ct.workspace_id").
		ColumnExpr("ct.conversation_id, t.id, t.name, t.color").
		Where("ct.workspace_id = ? AND ct.conversation_id IN (?)", workspaceID, bun.List(ids)).
		OrderExpr("ct.conversation_id, t.name_key").Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.ConversationID] = append(out[r.ConversationID], Tag{ID: r.ID, WorkspaceID: workspaceID, Name: r.Name, Color: r.Color})
	}
	return out, nil
}

// ---- notes ----

// messageOf checks that message id is of the conversation (and, with role, has that role).
func messageOf(ctx context.Context, db bun.IDB, workspaceID, conversationID, id int64, role string) error {
	var m struct {
		ConversationID int64  `bun:"conversation_id"`
		Role           string `bun:"role"`
	}
	err := db.NewSelect().TableExpr("messages").Column("conversation_id", "role").
		Where("id = ? AND workspace_id = ?", id, workspaceID).Scan(ctx, &m)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (m.ConversationID != conversationID || (role != "" && m.Role != role))) {
		return ErrWrongMessage
	}
	return err
}

// AddNote stores a note on its conversation (ErrNotFound) or one of its messages
// (ErrWrongMessage for another's), with the audit entries.
func (s *Store) AddNote(ctx context.Context, n *Note, entries ...*AuditEntry) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := conversationExists(ctx, tx, n.WorkspaceID, n.ConversationID); err != nil {
			return err
		}
		if n.MessageID != nil {
			if err := messageOf(ctx, tx, n.WorkspaceID, n.ConversationID, *n.MessageID, ""); err != nil {
				return err
			}
		}
		if n.CreatedAt.IsZero() {
			n.CreatedAt = now()
		}
		if _, err := tx.NewInsert().Model(n).ExcludeColumn("id").Returning("id").Exec(ctx); err != nil {
			return err
		}
		return insertAudit(ctx, tx, entries)
	})
}

// Notes lists a conversation's notes, oldest first.
func (s *Store) Notes(ctx context.Context, workspaceID, conversationID int64) ([]Note, error) {
	var out []Note
	err := s.DB.NewSelect().Model(&out).Where("workspace_id = ? AND conversation_id = ?", workspaceID, conversationID).
		OrderExpr("created_at, id").Scan(ctx)
	return out, err
}

// ---- corrections ----

// SetCorrection stores the correction of an assistant message of its conversation, or
// replaces the text, author and time of the one it has (created_at stays): ErrNotFound for
// no such conversation, ErrWrongMessage for a message of another conversation or not an
// assistant's (role).
func (s *Store) SetCorrection(ctx context.Context, c *Correction, role string, entries ...*AuditEntry) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := conversationExists(ctx, tx, c.WorkspaceID, c.ConversationID); err != nil {
			return err
		}
		if err := messageOf(ctx, tx, c.WorkspaceID, c.ConversationID, c.MessageID, role); err != nil {
			return err
		}
		t := now()
		c.CreatedAt, c.UpdatedAt = t, t
		if _, err := tx.NewInsert().Model(c).
			On("CONFLICT (message_id) DO UPDATE").
			Set("text = EXCLUDED.text, author_id = EXCLUDED.author_id, author_name = EXCLUDED.author_name, updated_at = EXCLUDED.updated_at").
			Returning("created_at").Exec(ctx); err != nil {
			return err
		}
		return insertAudit(ctx, tx, entries)
	})
}

// DeleteCorrection removes a message's correction; removed is false when it had none.
func (s *Store) DeleteCorrection(ctx context.Context, workspaceID, conversationID, messageID int64, entries ...*AuditEntry) (removed bool, err error) {
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*Correction)(nil)).
			Where("message_id = ? AND conversation_id = ? AND workspace_id = ?", messageID, conversationID, workspaceID).Exec(ctx)
		if removed, err = affected(res, err); err != nil || !removed {
			return err
		}
		return insertAudit(ctx, tx, entries)
	})
	return removed, err
}

// Corrections is a conversation's corrections by message id (one query).
func (s *Store) Corrections(ctx context.Context, workspaceID, conversationID int64) (map[int64]Correction, error) {
	var rows []Correction
	if err := s.DB.NewSelect().Model(&rows).Where("workspace_id = ? AND conversation_id = ?", workspaceID, conversationID).Scan(ctx); err != nil {
		return nil, err
	}
	out := make(map[int64]Correction, len(rows))
	for _, c := range rows {
		out[c.MessageID] = c
	}
	return out, nil
}

// ---- keyboard review: the neighbours in a list ----

// Neighbours are the conversations before (prev, newer in the default order) and after
// (next) cur in the list of the filter f, in its keyset order: one indexed query each, 0 at
// either end.
func (s *Store) Neighbours(ctx context.Context, workspaceID int64, f Filter, cur *Conversation) (prev, next int64, err error) {
	sort := f.SortKey()
	at := Cursor{Sort: sort, Time: cur.LastMessageAt, Cost: cur.CostNanos, ID: cur.ID}
	var ids []int64
	q := keyset(s.applyFilter(s.DB.NewSelect().ModelTableExpr("conversations AS c").Column("c.id"), workspaceID, f), "c", sort, &at).Limit(1)
	if err := q.Scan(ctx, &ids); err != nil {
		return 0, 0, err
	}
	if len(ids) > 0 {
		next = ids[0]
	}
	ids = ids[:0]
	q = keysetBefore(s.applyFilter(s.DB.NewSelect().ModelTableExpr("conversations AS c").Column("c.id"), workspaceID, f), sort, at).Limit(1)
	if err := q.Scan(ctx, &ids); err != nil {
		return 0, 0, err
	}
	if len(ids) > 0 {
		prev = ids[0]
	}
	return prev, next, nil
}

// keysetBefore is keyset's mirror: the rows before the position, nearest first.
func keysetBefore(q *bun.SelectQuery, sort string, at Cursor) *bun.SelectQuery {
	if sort == "cost" {
		return q.Where("(c.cost_nanos, c.id) > (?, ?)", at.Cost, at.ID).OrderExpr("c.cost_nanos ASC, c.id ASC")
	}
	return q.Where("(c.last_message_at, c.id) > (?, ?)", at.Time, at.ID).OrderExpr("c.last_message_at ASC, c.id ASC")
}
