// Package testsets is the test sets of an assistant and their cases (issue 15 item 3): a
// set is a named list of cases of one assistant; a case is a conversation's customer turns,
// copied when it is added (the case outlives the conversation), each with the answer a
// reviewer expects there (the correction of the assistant message that answered it, issue
// 14). It is the only writer of test_sets and test_cases; each write is one store
// transaction with its audit entry. The runs of a set (replaying every case against a
// version and grading it) are app/testruns', which reads the cases with store.TestCases.
package testsets

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Errors. A *FieldError names the field of a wrong value (the API answers 422 naming it).
var (
	// ErrNotFound is a test set (or case) that is not the workspace's.
	ErrNotFound = store.ErrNotFound
	// ErrNameTaken is a name another set of the same assistant has (case-insensitively).
	ErrNameTaken = errors.New("the assistant has a test set of this name")
	// ErrSetFull is an addition that would give a set more than model.MaxTestCases cases.
	ErrSetFull = store.ErrSetFull
)

// FieldError is a wrong value of one field.
type FieldError struct{ Field, Message string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Service is the test sets and their cases.
type Service struct {
	Store *store.Store
}

// MaxTitleLen is the length of a case's title (its first customer turn, cut).
const MaxTitleLen = 80

// BatchSize is how many conversations an addition in bulk reads and writes at once: its
// messages and corrections are one query each per batch, its cases one statement.
const BatchSize = 50

// Name checks a set's name (whitespace collapsed, 1 to model.MaxTestSetNameLen characters,
// no control characters) and returns it with its key, the form uniqueness compares
// (lower-cased): two sets of an assistant may not share a key.
func Name(name string) (clean, key string, err error) {
	if !utf8.ValidString(name) {
		return "", "", &FieldError{"name", "must be valid UTF-8 text"}
	}
	if strings.IndexFunc(name, func(r rune) bool { return unicode.IsControl(r) && !unicode.IsSpace(r) }) >= 0 {
		return "", "", &FieldError{"name", "must not contain control characters"}
	}
	clean = strings.Join(strings.Fields(name), " ")
	switch n := utf8.RuneCountInString(clean); {
	case n == 0:
		return "", "", &FieldError{"name", "is required"}
	case n > model.MaxTestSetNameLen:
		return "", "", &FieldError{"name", "must be at most " + strconv.Itoa(model.MaxTestSetNameLen) + " characters"}
	}
	return clean, strings.ToLower(clean), nil
}

// author is who acts (from the context), as versions and replays name it
// (assistants.Author): a member's id and name, or "API key <name>" without an id.
func author(ctx context.Context) (id *int64, name string) {
	a := assistants.Author(ctx)
	return a.ID, a.Name
}

// Create makes a test set of an assistant of the workspace: *FieldError ("name",
// "assistant_id"), ErrNameTaken.
func (s *Service) Create(ctx context.Context, workspaceID, assistantID int64, name string) (*store.TestSet, error) {
	name, key, err := Name(name)
	if err != nil {
		return nil, err
	}
	if assistantID <= 0 {
		return nil, &FieldError{"assistant_id", "is not an assistant of this workspace"}
	}
	byID, byName := author(ctx)
	ts := &store.TestSet{WorkspaceID: workspaceID, AssistantID: assistantID, Name: name, NameKey: key, CreatedByID: byID, CreatedBy: byName}
	entry := audit.New(ctx, workspaceID, audit.TestSetCreate, audit.On(audit.TargetTestSet, 0), map[string]any{"name": name, "assistant_id": assistantID})
	switch err := s.Store.CreateTestSet(ctx, ts, entry); {
	case errors.Is(err, store.ErrNotFound):
		return nil, &FieldError{"assistant_id", "is not an assistant of this workspace"}
	case errors.Is(err, store.ErrConflict):
		return nil, ErrNameTaken
	case err != nil:
		return nil, err
	}
	return ts, nil
}

// Rename renames a set: *FieldError ("name"), ErrNameTaken, ErrNotFound.
func (s *Service) Rename(ctx context.Context, workspaceID, id int64, name string) (*store.TestSet, error) {
	name, key, err := Name(name)
	if err != nil {
		return nil, err
	}
	entry := audit.New(ctx, workspaceID, audit.TestSetRename, audit.On(audit.TargetTestSet, id), map[string]any{"name": name})
	switch err := s.Store.RenameTestSet(ctx, workspaceID, id, name, key, entry); {
	case errors.Is(err, store.ErrConflict):
		return nil, ErrNameTaken
	case err != nil:
		return nil, err
	}
	return s.Store.TestSetByID(ctx, workspaceID, id)
}

// Delete deletes a set with its cases and runs (ErrNotFound).
func (s *Service) Delete(ctx context.Context, workspaceID, id int64) error {
	ts, err := s.Store.TestSetByID(ctx, workspaceID, id)
	if err != nil {
		return err
	}
	entry := audit.New(ctx, workspaceID, audit.TestSetDelete, audit.On(audit.TargetTestSet, id), map[string]any{"name": ts.Name, "assistant_id": ts.AssistantID})
	return s.Store.DeleteTestSet(ctx, workspaceID, id, entry)
}

// Sets lists the workspace's sets (of one assistant when assistantID > 0) with their case
// counts and latest runs.
func (s *Service) Sets(ctx context.Context, workspaceID, assistantID int64) ([]store.TestSetSummary, error) {
	return s.Store.TestSetSummaries(ctx, workspaceID, assistantID)
}

// Set loads a set of the workspace with its cases, oldest first (ErrNotFound).
func (s *Service) Set(ctx context.Context, workspaceID, id int64) (*store.TestSet, []store.TestCase, error) {
	ts, err := s.Store.TestSetByID(ctx, workspaceID, id)
	if err != nil {
		return nil, nil, err
	}
	cases, err := s.Store.TestCases(ctx, workspaceID, id)
	if err != nil {
		return nil, nil, err
	}
	return ts, cases, nil
}

// Turns is a conversation's messages (oldest first) as a case's turns: one per turn of
// conversation.Turns (the one rule for what a turn is: consecutive customer messages joined
// by a blank line, as a replay of the conversation joins them; a message without text is
// "[<type> message]"; at most model.MaxCaseTurns turns). When a reviewer corrected one of the
// assistant messages answering a turn, the turn's Expected is what the answer should have
// been: those messages' texts, each corrected one replaced by its correction (a fallback
// text, not something the assistant said, left out unless corrected), joined by a blank line
// ("" when none is corrected).
func Turns(msgs []store.Message, corrections map[int64]store.Correction) []model.TestCaseTurn {
	var turns []model.TestCaseTurn
	for _, g := range conversation.Turns(msgs) {
		t := model.TestCaseTurn{Customer: g.CustomerText()}
		var answer []string
		corrected := false
		for _, m := range g.Answers {
			if c, ok := corrections[m.ID]; ok && m.Role == model.RoleAssistant {
				answer, corrected = append(answer, c.Text), true
			} else if conversation.IsAnswer(m) {
				answer = append(answer, m.Content)
			}
		}
		if corrected {
			t.Expected = strings.Join(answer, "\n\n")
		}
		turns = append(turns, t)
	}
	return turns
}

// title is a case's title: its first customer turn, on one line, cut to MaxTitleLen.
func title(turns []model.TestCaseTurn) string {
	if len(turns) == 0 {
		return ""
	}
	t := strings.Join(strings.Fields(turns[0].Customer), " ")
	if utf8.RuneCountInString(t) > MaxTitleLen {
		t = string([]rune(t)[:MaxTitleLen-1]) + "…"
	}
	return t
}

// caseOf is the case of a conversation, from its messages and their corrections; nil when
// it has no customer turn.
func caseOf(ctx context.Context, conv *store.Conversation, msgs []store.Message, corrections map[int64]store.Correction) *store.TestCase {
	turns := Turns(msgs, corrections)
	if len(turns) == 0 {
		return nil
	}
	byID, byName := author(ctx)
	id := conv.ID
	return &store.TestCase{ConversationID: &id, Title: title(turns), Turns: turns, CreatedByID: byID, CreatedBy: byName}
}

// Add makes a case of a conversation in a set. A conversation the set has a case of
// already is not added twice: its case is refreshed (the turns copied again, so expected
// answers corrected since are taken), and added is false. Errors: ErrNotFound for a set
// not the workspace's; *FieldError ("conversation_id": not a conversation of the workspace,
// not one of the set's assistant, without a customer message); ErrSetFull.
func (s *Service) Add(ctx context.Context, workspaceID, setID, conversationID int64) (c *store.TestCase, added bool, err error) {
	ts, err := s.Store.TestSetByID(ctx, workspaceID, setID)
	if err != nil {
		return nil, false, err
	}
	conv, err := s.Store.GetConversation(ctx, workspaceID, conversationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, &FieldError{"conversation_id", "is not a conversation of this workspace"}
	}
	if err != nil {
		return nil, false, err
	}
	if conv.AssistantID == nil || *conv.AssistantID != ts.AssistantID {
		return nil, false, &FieldError{"conversation_id", "is not a conversation of the test set's assistant"}
	}
	ids := []int64{conv.ID}
	msgs, err := s.Store.MessagesOf(ctx, workspaceID, ids)
	if err != nil {
		return nil, false, err
	}
	corr, err := s.Store.CorrectionsOf(ctx, workspaceID, ids)
	if err != nil {
		return nil, false, err
	}
	nc := caseOf(ctx, conv, msgs[conv.ID], corr)
	if nc == nil {
		return nil, false, &FieldError{"conversation_id", "has no customer message to replay"}
	}
	n, _, err := s.Store.AddTestCases(ctx, workspaceID, setID, []store.TestCase{*nc}, model.MaxTestCases,
		func(added, _ int) []*store.AuditEntry {
			if added == 0 {
				return nil
			}
			return []*store.AuditEntry{audit.New(ctx, workspaceID, audit.TestCaseAdd, audit.On(audit.TargetTestSet, setID),
				map[string]any{"conversation_id": conv.ID, "turns": len(nc.Turns)})}
		})
	if err != nil {
		return nil, false, err
	}
	c, err = s.Store.TestCaseOf(ctx, workspaceID, setID, conv.ID)
	if err != nil {
		return nil, false, err
	}
	return c, n > 0, nil
}

// Result is what an addition in bulk did: how many conversations of the set's assistant
// matched, how many cases were added and refreshed, and how many conversations were left
// out for having no customer message.
type Result struct {
	Matched, Added, Refreshed, Skipped int
}

// AddMatching makes a case of every conversation of the set's assistant matching the
// filter f (the list's, from conversation.ParseQuery; described by query, the filter as
// the list's URL spells it, for the audit log), in batches of BatchSize: a batch's messages
// and corrections are read in one query each and its cases written in one transaction with
// one audit entry. At most model.MaxTestCases conversations may match (a *FieldError
// "filter" otherwise, and nothing is added). A set that fills up stops the addition with
// ErrSetFull; the batches written before stay, and the Result says what they did.
func (s *Service) AddMatching(ctx context.Context, workspaceID, setID int64, f store.Filter, query string) (Result, error) {
	var r Result
	ts, err := s.Store.TestSetByID(ctx, workspaceID, setID)
	if err != nil {
		return r, err
	}
	if f.AssistantID != 0 && f.AssistantID != ts.AssistantID {
		return r, nil // the filter names another assistant: nothing of this set's matches
	}
	f.AssistantID, f.Sort = ts.AssistantID, ""
	total, err := s.Store.CountMatching(ctx, workspaceID, f)
	if err != nil {
		return r, err
	}
	if total > model.MaxTestCases {
		return r, &FieldError{"filter", strconv.FormatInt(total, 10) + " conversations match; a test set holds at most " +
			strconv.Itoa(model.MaxTestCases) + " cases: narrow the filter"}
	}
	err = s.Store.EachConversationPage(ctx, workspaceID, f, BatchSize, func(rows []store.Conversation) error {
		r.Matched += len(rows)
		ids := make([]int64, len(rows))
		for i := range rows {
			ids[i] = rows[i].ID
		}
		msgs, err := s.Store.MessagesOf(ctx, workspaceID, ids)
		if err != nil {
			return err
		}
		corr, err := s.Store.CorrectionsOf(ctx, workspaceID, ids)
		if err != nil {
			return err
		}
		cases := make([]store.TestCase, 0, len(rows))
		for i := range rows {
			if c := caseOf(ctx, &rows[i], msgs[rows[i].ID], corr); c != nil {
				cases = append(cases, *c)
			} else {
				r.Skipped++
			}
		}
		added, refreshed, err := s.Store.AddTestCases(ctx, workspaceID, setID, cases, model.MaxTestCases,
			func(added, refreshed int) []*store.AuditEntry {
				if added == 0 && refreshed == 0 {
					return nil
				}
				return []*store.AuditEntry{audit.New(ctx, workspaceID, audit.TestCasesAdd, audit.On(audit.TargetTestSet, setID),
					map[string]any{"filter": query, "added": added, "refreshed": refreshed})}
			})
		r.Added += added
		r.Refreshed += refreshed
		return err
	})
	return r, err
}

// AddConversations is AddMatching for a selection of conversations (ids, at most
// model.MaxTestCases; those of another workspace or assistant are not matched).
func (s *Service) AddConversations(ctx context.Context, workspaceID, setID int64, ids []int64) (Result, error) {
	if len(ids) == 0 {
		return Result{}, &FieldError{"conversation_ids", "choose at least one conversation"}
	}
	if len(ids) > model.MaxTestCases {
		return Result{}, &FieldError{"conversation_ids", "at most " + strconv.Itoa(model.MaxTestCases) + " at once"}
	}
	return s.AddMatching(ctx, workspaceID, setID, store.Filter{IDs: ids}, "selection of "+strconv.Itoa(len(ids)))
}

// RemoveCase removes a case of a set (ErrNotFound).
func (s *Service) RemoveCase(ctx context.Context, workspaceID, setID, caseID int64) error {
	entry := audit.New(ctx, workspaceID, audit.TestCaseRemove, audit.On(audit.TargetTestSet, setID), map[string]any{"case_id": caseID})
	return s.Store.DeleteTestCase(ctx, workspaceID, setID, caseID, entry)
}
