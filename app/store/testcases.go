package store

import (
	"context"
	"errors"

	"github.com/uptrace/bun"
)

// The storage of test sets and their cases (issue 15 item 3). app/testsets decides
// (validation, limits, who acts); this file keeps the rules a concurrent change could break:
// a set's name is unique per assistant (name_key), a conversation is in a set at most once
// (unique (test_set_id, conversation_id), written with ON CONFLICT DO NOTHING), a set holds at
// most a given number of cases (counted in the transaction that inserts).

// TestSetByID is a test set of the workspace, or ErrNotFound.
func (s *Store) TestSetByID(ctx context.Context, workspaceID, id int64) (*TestSet, error) {
	ts := new(TestSet)
	if err := s.DB.NewSelect().Model(ts).Where("id = ? AND workspace_id = ?", id, workspaceID).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return ts, nil
}

// TestCases lists the cases of test set setID of the workspace, oldest first (by id). A set
// of another workspace, or none, has no cases here: check the set with TestSetByID first
// when "no such set" matters.
func (s *Store) TestCases(ctx context.Context, workspaceID, setID int64) ([]TestCase, error) {
	var out []TestCase
	err := s.DB.NewSelect().Model(&out).Where("workspace_id = ? AND test_set_id = ?", workspaceID, setID).
		OrderExpr("id").Scan(ctx)
	return out, err
}

// TestSetSummary is a set as the lists show it: its assistant's name, how many cases it
// has, and its latest run (nil before the first).
type TestSetSummary struct {
	TestSet
	AssistantName string
	Cases         int
	Latest        *TestSetRun
}

// TestSetSummaries lists the workspace's test sets (of one assistant when assistantID > 0),
// by assistant name then set name: two queries whatever the number of sets.
func (s *Store) TestSetSummaries(ctx context.Context, workspaceID, assistantID int64) ([]TestSetSummary, error) {
	var rows []struct {
		TestSet
		AssistantName string `bun:"assistant_name"`
		Cases         int    `bun:"cases"`
	}
	q := s.DB.NewSelect().TableExpr("test_sets AS ts").
		Join("JOIN assistants AS a ON a.id = ts.assistant_id AND a.workspace_id = ts.workspace_id").
		ColumnExpr("ts.*").ColumnExpr("a.name AS assistant_name").
		ColumnExpr("(SELECT COUNT(*) FROM test_cases AS tc WHERE tc.test_set_id = ts.id) AS cases").
		Where("ts.workspace_id = ?", workspaceID)
	if assistantID > 0 {
		q = q.Where("ts.assistant_id = ?", assistantID)
	}
	if err := q.OrderExpr("a.name, ts.name_key, ts.id").Scan(ctx, &rows); err != nil {
		return nil, err
	}
	out := make([]TestSetSummary, len(rows))
	ids := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = TestSetSummary{TestSet: r.TestSet, AssistantName: r.AssistantName, Cases: r.Cases}
		ids[i] = r.ID
	}
	if len(ids) == 0 {
		return out, nil
	}
	var runs []TestSetRun
	if err := s.DB.NewSelect().Model(&runs).
		Where("workspace_id = ? AND id IN (SELECT MAX(r.id) FROM test_set_runs AS r WHERE r.workspace_id = ? AND r.test_set_id IN (?) GROUP BY r.test_set_id)",
			workspaceID, workspaceID, bun.List(ids)).Scan(ctx); err != nil {
		return nil, err
	}
	latest := make(map[int64]*TestSetRun, len(runs))
	for i := range runs {
		latest[runs[i].TestSetID] = &runs[i]
	}
	for i := range out {
		out[i].Latest = latest[out[i].ID]
	}
	return out, nil
}

// CreateTestSet stores a new set of an assistant of the workspace (ErrNotFound for an
// assistant that is not the workspace's; ErrConflict when the assistant has a set of that
// name_key), with its audit entries (their target filled with the new id).
func (s *Store) CreateTestSet(ctx context.Context, ts *TestSet, entries ...*AuditEntry) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		n, err := tx.NewSelect().TableExpr("assistants").Where("id = ? AND workspace_id = ?", ts.AssistantID, ts.WorkspaceID).Count(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		if ts.CreatedAt.IsZero() {
			ts.CreatedAt = now()
		}
		res, err := tx.NewInsert().Model(ts).ExcludeColumn("id").On("CONFLICT (assistant_id, name_key) DO NOTHING").Exec(ctx)
		if ok, err := affected(res, err); err != nil {
			return err
		} else if !ok {
			return ErrConflict
		}
		if err := tx.NewSelect().Model((*TestSet)(nil)).Column("id").
			Where("assistant_id = ? AND name_key = ?", ts.AssistantID, ts.NameKey).Scan(ctx, &ts.ID); err != nil {
			return err
		}
		fillTarget(entries, ts.ID)
		return insertAudit(ctx, tx, entries)
	})
}

// RenameTestSet renames a set of the workspace: ErrNotFound, or ErrConflict when another
// set of its assistant has the new name_key.
func (s *Store) RenameTestSet(ctx context.Context, workspaceID, id int64, name, key string, entries ...*AuditEntry) error {
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*TestSet)(nil)).Set("name = ?", name).Set("name_key = ?", key).
			Where("id = ? AND workspace_id = ?", id, workspaceID).Exec(ctx)
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

// DeleteTestSet deletes a set of the workspace with its cases and runs (ON DELETE CASCADE),
// with the audit entries: ErrNotFound for no such set.
func (s *Store) DeleteTestSet(ctx context.Context, workspaceID, id int64, entries ...*AuditEntry) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*TestSet)(nil)).Where("id = ? AND workspace_id = ?", id, workspaceID).Exec(ctx)
		if ok, err := affected(res, err); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		return insertAudit(ctx, tx, entries)
	})
}

// ErrSetFull is an addition that would give a test set more cases than it may hold.
var ErrSetFull = errors.New("the test set is full")

// AddTestCases puts cases (each of a different conversation) into test set setID of the
// workspace, in one transaction under the set's row lock (PostgreSQL; SQLite has one
// writer): a conversation the set has no case of is inserted, one it has is refreshed (its
// title and turns replaced: ON CONFLICT (test_set_id, conversation_id) DO UPDATE, never a
// check-then-insert). ErrNotFound for no such set; ErrSetFull, and nothing written, when the
// set would then hold more than max cases. entries, when not nil, is called with the counts
// and its audit entries are written in the transaction.
func (s *Store) AddTestCases(ctx context.Context, workspaceID, setID int64, cases []TestCase, max int,
	entries func(added, refreshed int) []*AuditEntry) (added, refreshed int, err error) {
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewSelect().Model((*TestSet)(nil)).Column("id").Where("id = ? AND workspace_id = ?", setID, workspaceID)
		if s.Dialect == Postgres {
			q = q.For("UPDATE")
		}
		var id int64
		if err := q.Scan(ctx, &id); err != nil {
			return notFound(err)
		}
		count := func() (int, error) {
			n, err := tx.NewSelect().Model((*TestCase)(nil)).Where("test_set_id = ?", setID).Count(ctx)
			return int(n), err
		}
		before, err := count()
		if err != nil {
			return err
		}
		if len(cases) == 0 {
			return nil
		}
		t := now()
		for i := range cases {
			cases[i].WorkspaceID, cases[i].TestSetID = workspaceID, setID
			if cases[i].CreatedAt.IsZero() {
				cases[i].CreatedAt = t
			}
			if cases[i].Turns == nil {
				cases[i].Turns = TestCaseTurns{}
			}
		}
		if _, err := tx.NewInsert().Model(&cases).ExcludeColumn("id").
			On("CONFLICT (test_set_id, conversation_id) DO UPDATE").
			Set("title = EXCLUDED.title, turns = EXCLUDED.turns").Returning("NULL").Exec(ctx); err != nil {
			return err
		}
		after, err := count()
		if err != nil {
			return err
		}
		if after > max {
			return ErrSetFull
		}
		added, refreshed = after-before, len(cases)-(after-before)
		if entries == nil {
			return nil
		}
		return insertAudit(ctx, tx, entries(added, refreshed))
	})
	if err != nil {
		return 0, 0, err
	}
	return added, refreshed, nil
}

// TestCaseOf is the case of a conversation in a set of the workspace, or ErrNotFound.
func (s *Store) TestCaseOf(ctx context.Context, workspaceID, setID, conversationID int64) (*TestCase, error) {
	c := new(TestCase)
	if err := s.DB.NewSelect().Model(c).
		Where("workspace_id = ? AND test_set_id = ? AND conversation_id = ?", workspaceID, setID, conversationID).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return c, nil
}

// DeleteTestCase removes case caseID of set setID of the workspace, with the audit entries:
// ErrNotFound for no such case.
func (s *Store) DeleteTestCase(ctx context.Context, workspaceID, setID, caseID int64, entries ...*AuditEntry) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*TestCase)(nil)).
			Where("id = ? AND test_set_id = ? AND workspace_id = ?", caseID, setID, workspaceID).Exec(ctx)
		if ok, err := affected(res, err); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		return insertAudit(ctx, tx, entries)
	})
}

// MessagesOf is every message of the conversations ids of the workspace (one query),
// oldest first, by conversation. For a bounded batch of conversations (a test set's
// additions).
func (s *Store) MessagesOf(ctx context.Context, workspaceID int64, ids []int64) (map[int64][]Message, error) {
	out := map[int64][]Message{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []Message
	if err := s.DB.NewSelect().Model(&rows).Where("workspace_id = ? AND conversation_id IN (?)", workspaceID, bun.List(ids)).
		Order("conversation_id ASC", "created_at ASC", "id ASC").Scan(ctx); err != nil {
		return nil, err
	}
	for _, m := range rows {
		out[m.ConversationID] = append(out[m.ConversationID], m)
	}
	return out, nil
}

// CorrectionsOf is the corrections of the conversations ids of the workspace (one query),
// by message id.
func (s *Store) CorrectionsOf(ctx context.Context, workspaceID int64, ids []int64) (map[int64]Correction, error) {
	out := map[int64]Correction{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []Correction
	if err := s.DB.NewSelect().Model(&rows).Where("workspace_id = ? AND conversation_id IN (?)", workspaceID, bun.List(ids)).Scan(ctx); err != nil {
		return nil, err
	}
	for _, c := range rows {
		out[c.MessageID] = c
	}
	return out, nil
}

// ConversationsByIDs loads the conversations ids of the workspace (one query; ids of
// another workspace are left out).
func (s *Store) ConversationsByIDs(ctx context.Context, workspaceID int64, ids []int64) ([]Conversation, error) {
	var out []Conversation
	if len(ids) == 0 {
		return out, nil
	}
	err := s.DB.NewSelect().Model(&out).Where("workspace_id = ? AND id IN (?)", workspaceID, bun.List(ids)).OrderExpr("id").Scan(ctx)
	return out, err
}
