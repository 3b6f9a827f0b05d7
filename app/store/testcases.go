package store

import (
	"context"
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
