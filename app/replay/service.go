package replay

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Errors of Start (the API answers 422 naming "version" for the version errors).
var (
	// ErrNoAssistant: the conversation has no assistant to replay it with.
	ErrNoAssistant = errors.New("the conversation has no assistant")
	// ErrNoTurns: the customer never wrote; there is nothing to replay.
	ErrNoTurns = errors.New("the customer never wrote in this conversation: there is nothing to replay")
	// ErrNoDraft: the draft was asked for and the assistant has none (store.ErrNoDraft).
	ErrNoDraft = store.ErrNoDraft
	// ErrNoVersion: the version asked for does not exist (assistants.ErrNoVersion).
	ErrNoVersion = assistants.ErrNoVersion
)

// Service starts replays and finds the ones whose task was lost.
type Service struct {
	Store *store.Store
	// Enqueue hands a created replay to the workers (workers.Tasks.EnqueueReplay); a failure
	// is logged, the sweep enqueues it later. nil: nothing is enqueued.
	Enqueue func(ctx context.Context, r *store.Replay) error
	Log     *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Start replays a conversation of the workspace with a version of its assistant (the draft
// when ref names it; ErrNoDraft when there is none, ErrNoVersion for a number that does not
// exist): it writes the replay row and its turns in one transaction, THEN enqueues its task.
// store.ErrNotFound: no such conversation in the workspace.
func (s *Service) Start(ctx context.Context, workspaceID, conversationID int64, ref model.VersionRef, by store.Author) (*store.Replay, error) {
	conv, err := s.Store.GetConversation(ctx, workspaceID, conversationID)
	if err != nil {
		return nil, err
	}
	if conv.AssistantID == nil {
		return nil, ErrNoAssistant
	}
	a, err := s.Store.AssistantByID(ctx, workspaceID, *conv.AssistantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoAssistant
	}
	if err != nil {
		return nil, err
	}
	v, err := s.Store.ResolveVersion(ctx, a, ref)
	switch {
	case errors.Is(err, store.ErrNoDraft):
		return nil, ErrNoDraft
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrNoVersion
	case err != nil:
		return nil, err
	}
	var msgs []store.Message
	if err := s.Store.AllMessages(ctx, workspaceID, conversationID, func(m *store.Message) error {
		msgs = append(msgs, *m)
		return nil
	}); err != nil {
		return nil, err
	}
	turns := TurnsOf(msgs)
	if len(turns) == 0 {
		return nil, ErrNoTurns
	}
	cid := conv.ID
	r := &store.Replay{WorkspaceID: workspaceID, ConversationID: &cid, AssistantID: a.ID, Version: v.Number,
		CreatedByID: by.ID, CreatedBy: by.Name}
	if _, err := s.Store.CreateReplay(ctx, r, turns); err != nil {
		return nil, err
	}
	if s.Enqueue != nil {
		if err := s.Enqueue(ctx, r); err != nil {
			s.log().WarnContext(ctx, "could not enqueue a replay; the sweep will", "replay_id", r.ID, "err", err)
		}
	}
	return r, nil
}

// Due is the sweep's work: up to limit replays of conversations (not of test set runs, whose
// run owns them) left pending or running for longer than age, whose task may have been lost
// with Redis or whose worker was killed. The caller enqueues each (a task still queued or
// running is not duplicated: its id is the replay's).
func (s *Service) Due(ctx context.Context, age time.Duration, limit int) ([]store.Replay, error) {
	return s.Store.UnfinishedReplays(ctx, s.now().Add(-age), limit)
}
