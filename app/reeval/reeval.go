// Package reeval is "Evaluate again" (issue 14): a new evaluation run of one conversation,
// or of every conversation matching the list's filters (a background job with progress, like
// the bulk deletion), with an estimate of its cost before it runs.
//
// A run is requested by writing it: a row of evaluation_runs with status pending is the
// request, which the evaluation engine executes (its sweep finds pending runs; Enqueue makes
// it immediate). This package decides which run to write; it never calls a model. It never
// imports app/web, views or workers.
package reeval

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// JobKind is the key space of the bulk jobs' progress (conversation.BulkJobs.Kind).
const JobKind = "bulkevaluate"

// Service requests evaluation runs.
type Service struct {
	Store  *store.Store
	Events *events.Bus
	// Jobs keeps the bulk jobs' progress (Kind JobKind).
	Jobs conversation.BulkJobs
	// Offline says that the configured provider is the built-in offline one (evaluations cost
	// nothing).
	Offline bool
	// Enqueue, when set, is called with every run this package creates: the app hands it to
	// the evaluation engine's task. A run whose task is lost is found by the engine's sweep.
	Enqueue func(ctx context.Context, run *store.EvaluationRun)
}

// Again requests a new evaluation run of a conversation of the workspace for its current end
// (an open conversation that never ended is evaluated as end 0): the end's next run, pending,
// with the evaluators its assistant has now. When that end already has a pending run for
// the same evaluators, that run is returned: it will give the same answer.
// store.ErrNotFound: no such conversation in the workspace.
func (s *Service) Again(ctx context.Context, workspaceID, id int64) (*store.EvaluationRun, error) {
	conv, err := s.Store.GetConversation(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	a, err := answering(ctx, s.Store, conv)
	if err != nil {
		return nil, err
	}
	var custom []model.Evaluator
	if a != nil {
		custom = a.Evaluators
	}
	run, created, err := s.Store.RequestEvaluation(ctx, workspaceID, id, model.EvaluatorsVersion(custom), time.Time{})
	if err != nil {
		return nil, err
	}
	if created {
		s.enqueue(ctx, run)
		s.publish(ctx, events.Event{Kind: events.ConversationChanged, WorkspaceID: workspaceID, ConversationID: id})
	}
	return run, nil
}

// answering is the assistant whose evaluators judge conv (store.AnsweringAssistant: a Test
// Chat's version, else the published row), nil when it has none or it is gone.
func answering(ctx context.Context, st *store.Store, conv *store.Conversation) (*store.Assistant, error) {
	if conv.AssistantID == nil {
		return nil, nil
	}
	a, err := st.AssistantByID(ctx, conv.WorkspaceID, *conv.AssistantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return st.AnsweringAssistant(ctx, conv, a)
}

// versions reads the workspace's assistants once and returns the evaluators version of each
// (a conversation without an assistant, or whose assistant is gone, has no custom evaluators).
func (s *Service) versions(ctx context.Context, workspaceID int64) (func(assistantID *int64) int, error) {
	rows, err := s.Store.Assistants(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]int, len(rows))
	for i := range rows {
		byID[rows[i].ID] = model.EvaluatorsVersion(rows[i].Evaluators)
	}
	none := model.EvaluatorsVersion(nil)
	return func(id *int64) int {
		if id == nil {
			return none
		}
		if v, ok := byID[*id]; ok {
			return v
		}
		return none
	}, nil
}

func (s *Service) enqueue(ctx context.Context, run *store.EvaluationRun) {
	if s.Enqueue != nil {
		s.Enqueue(ctx, run)
	}
}

func (s *Service) publish(ctx context.Context, ev events.Event) {
	if s.Events != nil {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		s.Events.Publish(pctx, ev)
	}
}

// EstimateSample is how many recent runs an estimate averages.
const EstimateSample = 200

// Estimate is what evaluating a set of conversations again is expected to cost.
type Estimate struct {
	Conversations int64
	// Offline: the offline provider answers, so it costs nothing.
	Offline bool
	// Known: the workspace has priced runs to average (Sample of them); PerRun is their
	// average and Total PerRun × Conversations.
	Known  bool
	Sample int64
	PerRun model.Money
	Total  model.Money
}

// EstimateMatching counts the workspace's conversations matching f and estimates the cost of
// evaluating them again: the average cost of the workspace's latest EstimateSample priced
// runs times the count (nothing with the offline provider; unknown before any priced run).
func (s *Service) EstimateMatching(ctx context.Context, workspaceID int64, f store.Filter) (Estimate, error) {
	f.Sort = ""
	n, err := s.Store.CountMatching(ctx, workspaceID, f)
	if err != nil {
		return Estimate{}, err
	}
	e := Estimate{Conversations: n, Offline: s.Offline}
	if s.Offline {
		return e, nil
	}
	sample, err := s.Store.RecentEvaluationCost(ctx, workspaceID, EstimateSample)
	if err != nil {
		return e, err
	}
	if sample.Runs > 0 {
		e.Known, e.Sample = true, sample.Runs
		e.PerRun = model.Money(sample.TotalNanos / sample.Runs)
		e.Total = e.PerRun * model.Money(n)
	}
	return e, nil
}

// Label says the estimate in words: "free (offline provider)", "about $0.0123 (…)", or that
// there is nothing to base it on yet.
func (e Estimate) Label() string {
	switch {
	case e.Offline:
		return "free (offline provider)"
	case e.Conversations == 0:
		return "nothing: no conversation matches"
	case !e.Known:
		return "unknown: no evaluation has been priced in this workspace yet"
	default:
		return fmt.Sprintf("about %s (%d × %s, the average of the last %d evaluations)", e.Total.Dollars(), e.Conversations, e.PerRun.Dollars(), e.Sample)
	}
}

// ErrBadBulk is a bulk job that no retry can run (its filter does not parse).
var ErrBadBulk = errors.New("bulk evaluation cannot run")

// StartBulk records a queued bulk job of total conversations (its task is the caller's).
func (s *Service) StartBulk(ctx context.Context, workspaceID int64, jobID string, total int64) error {
	return s.Jobs.Start(ctx, workspaceID, jobID, total)
}

// Job reads a bulk job's progress (conversation.ErrNoJob when unknown or expired).
func (s *Service) Job(ctx context.Context, workspaceID int64, jobID string) (*conversation.BulkJob, error) {
	return s.Jobs.Get(ctx, workspaceID, jobID)
}

// RunBulk runs the bulk job jobID: the list's filters as URL parameters (query), evaluated at
// askedAt, batch conversations per transaction, each asked for a new run as Again does
// (those whose current end has a pending run are skipped: it is coming). The job's count
// grows with every batch. A filter that does not parse fails the job (ErrBadBulk).
func (s *Service) RunBulk(ctx context.Context, workspaceID int64, jobID, query string, askedAt time.Time, batch int) (int, error) {
	vals, err := url.ParseQuery(query)
	if err != nil {
		return 0, fmt.Errorf("%w: bad query: %v", ErrBadBulk, err)
	}
	if askedAt.IsZero() {
		askedAt = time.Now()
	}
	_, f, err := conversation.ParseQuery(vals, askedAt)
	if err != nil {
		_ = s.Jobs.Progress(ctx, workspaceID, jobID, 0, "failed", err.Error())
		return 0, fmt.Errorf("%w: %v", ErrBadBulk, err)
	}
	f.Sort = ""
	if batch <= 0 {
		batch = 500
	}
	version, err := s.versions(ctx, workspaceID)
	if err != nil {
		return 0, err
	}
	// A retry starts again from the first conversation: those whose run is still pending
	// are skipped, so a retry soon after a failure adds little.
	_ = s.Jobs.Progress(ctx, workspaceID, jobID, 0, "running", "")
	total := 0
	var after int64
	for {
		runs, last, err := s.Store.RequestEvaluationsMatching(ctx, workspaceID, f, after, batch, version, time.Time{})
		if err != nil {
			_ = s.Jobs.Progress(context.WithoutCancel(ctx), workspaceID, jobID, 0, "running", "retrying after: "+err.Error())
			return total, err
		}
		if last == 0 {
			break
		}
		after = last
		for i := range runs {
			s.enqueue(ctx, &runs[i])
		}
		total += len(runs)
		if err := s.Jobs.Progress(ctx, workspaceID, jobID, int64(len(runs)), "running", ""); err != nil {
			return total, err
		}
		if len(runs) > 0 {
			s.publish(ctx, events.Event{Kind: events.CountsChanged, WorkspaceID: workspaceID})
		}
	}
	return total, s.Jobs.Progress(ctx, workspaceID, jobID, 0, "done", "")
}
