package conversation

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Saved views (issue 14, item 5): a named filter set, kept as the list's URL query so that
// opening a view is the list with that query; personal (the member's own) or shared with the
// workspace (admins). The navigation lists them with a bounded count.

// The out-of-the-box views of every workspace (shared; created lazily, once each).
var BuiltinViews = []store.SavedView{
	{Builtin: "needs_review", Name: "Needs review", Query: "needs_review=1", Position: -3},
	{Builtin: "negative", Name: "Negative sentiment", Query: "sentiment=" + model.SentimentNegative, Position: -2},
	{Builtin: "assigned_to_me", Name: "Assigned to me", Query: "assignee=me", Position: -1},
}

// ViewCountBound is the count a view's badge shows exactly; beyond it, "1,000+". A variable
// for the tests.
var ViewCountBound = 1000

// MaxViewName is the longest view name.
const MaxViewName = 50

var (
	// ErrViewForbidden: shared views are an admin's to create, rename and delete.
	ErrViewForbidden = errors.New("shared views are managed by the workspace's admins")
	// ErrBuiltinView: the out-of-the-box views can be renamed, not deleted.
	ErrBuiltinView = errors.New("an out-of-the-box view cannot be deleted")
)

// ViewCount is a view as the navigation shows it.
type ViewCount struct {
	store.SavedView
	Count int64  // up to ViewCountBound+1
	Label string // "12", "1,000+"; "" when its query no longer parses
}

// Shared reports a view shared with the workspace.
func (v ViewCount) Shared() bool { return v.UserID == nil }

// CountLabel is a bounded count as shown: exact up to bound, then "<bound>+", with thousands
// separated by commas.
func CountLabel(n int64, bound int) string {
	if n > int64(bound) {
		return groupThousands(int64(bound)) + "+"
	}
	return groupThousands(n)
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Views returns the views the member sees, with their counts (one bounded count each),
// creating the workspace's out-of-the-box views on first use.
func (s *Service) Views(ctx context.Context, workspaceID, userID int64) ([]ViewCount, error) {
	rows, err := s.Store.SavedViews(ctx, workspaceID, userID)
	if err != nil {
		return nil, err
	}
	if !hasBuiltin(rows) {
		if err := s.Store.EnsureBuiltinViews(ctx, workspaceID, BuiltinViews); err != nil {
			return nil, err
		}
		if rows, err = s.Store.SavedViews(ctx, workspaceID, userID); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	out := make([]ViewCount, len(rows))
	for i, r := range rows {
		out[i].SavedView = r
		vals, err := url.ParseQuery(r.Query)
		if err != nil {
			continue
		}
		_, f, err := ParseQueryFor(vals, now, userID)
		if err != nil {
			continue
		}
		f.Sort = ""
		n, err := s.Store.CountBounded(ctx, workspaceID, f, ViewCountBound)
		if err != nil {
			return nil, err
		}
		out[i].Count, out[i].Label = n, CountLabel(n, ViewCountBound)
	}
	return out, nil
}

func hasBuiltin(rows []store.SavedView) bool {
	for _, r := range rows {
		if r.Builtin != "" {
			return true
		}
	}
	return false
}

// ViewName checks a view's name: 1 to MaxViewName characters.
func ViewName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", &FieldError{"name", "is required"}
	}
	if utf8.RuneCountInString(name) > MaxViewName || strings.ContainsRune(name, 0) {
		return "", &FieldError{"name", fmt.Sprintf("must be at most %d characters", MaxViewName)}
	}
	return name, nil
}

// SaveView saves the list's query (URL parameters) as a view named name: shared with the
// workspace (admin only) or the member's own. The query is kept in its canonical form, without
// cursor or limit; it must parse and filter something.
func (s *Service) SaveView(ctx context.Context, workspaceID, userID int64, admin bool, name, query string, shared bool) (*store.SavedView, error) {
	name, err := ViewName(name)
	if err != nil {
		return nil, err
	}
	if shared && !admin {
		return nil, ErrViewForbidden
	}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return nil, &FieldError{"query", "is not a list query"}
	}
	q, _, err := ParseQueryFor(vals, time.Now(), userID)
	if err != nil {
		return nil, err
	}
	if !q.Active() {
		return nil, &FieldError{"query", "filters nothing: choose a filter first"}
	}
	v := &store.SavedView{WorkspaceID: workspaceID, Name: name, Query: q.Values().Encode()}
	if !shared {
		v.UserID = &userID
	}
	if err := s.Store.CreateSavedView(ctx, v); err != nil {
		return nil, err
	}
	return v, nil
}

// editableView loads a view the member may change: their own, or a shared one for an admin.
// Another member's personal view does not exist for them.
func (s *Service) editableView(ctx context.Context, workspaceID, userID int64, admin bool, id int64) (*store.SavedView, error) {
	v, err := s.Store.SavedView(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	if v.UserID != nil && *v.UserID != userID {
		return nil, store.ErrNotFound
	}
	if v.UserID == nil && !admin {
		return nil, ErrViewForbidden
	}
	return v, nil
}

// RenameView renames a view the member may change.
func (s *Service) RenameView(ctx context.Context, workspaceID, userID int64, admin bool, id int64, name string) error {
	name, err := ViewName(name)
	if err != nil {
		return err
	}
	if _, err := s.editableView(ctx, workspaceID, userID, admin, id); err != nil {
		return err
	}
	return s.Store.RenameSavedView(ctx, workspaceID, id, name)
}

// DeleteView deletes a view the member may change (not an out-of-the-box one).
func (s *Service) DeleteView(ctx context.Context, workspaceID, userID int64, admin bool, id int64) error {
	v, err := s.editableView(ctx, workspaceID, userID, admin, id)
	if err != nil {
		return err
	}
	if v.Builtin != "" {
		return ErrBuiltinView
	}
	return s.Store.DeleteSavedView(ctx, workspaceID, id)
}
