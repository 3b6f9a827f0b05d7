// Package testruns runs a test set against an assistant version (issue 15 items 3-4): every
// case is replayed (app/replay's engine regenerates its turns) and graded: the evaluators'
// values on the replayed answers, plus, for every turn with an expected answer, a judgement of
// whether the replayed answer says the same thing (an LLM call with a strict JSON schema; with
// the offline provider a deterministic word-overlap rule). A case passes by Passed; a run is
// worse than a baseline by Worse (rules.go); Compare puts two runs side by side; Gate is the
// publish gate.
//
// Durability: Start writes the run, a row and a replay per case in ONE transaction, then
// enqueues (the row is the promise, the task the means); Due finds runs whose task was lost.
// Execute is idempotent: a case is finished once (its row decides), every call has a request
// id the ledger records once, and a killed worker resumes at the first unfinished case (and
// the replay engine at the first turn without an answer).
package testruns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/replay"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/usage"
	"github.com/parleyhq/parley/app/workspace"
)

// Service starts, executes and compares test set runs.
type Service struct {
	Store  *store.Store
	Engine *replay.Engine // regenerates each case's turns and evaluates them
	LLM    llm.Provider   // the judge; nil or offline: the word-overlap rule
	Prices *usage.Table
	// Enqueue, when set, is called with every run Start creates (the app hands it to the
	// worker's task); a failure is logged, the sweep finds the run.
	Enqueue func(ctx context.Context, run *store.TestSetRun) error
	Log     *slog.Logger
	Meter   usage.Meter
	Now     func() time.Time
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

// Errors of Start.
var (
	// ErrNoCases: a run of a set without cases has nothing to do.
	ErrNoCases = errors.New("the test set has no cases")
	// ErrNoSuchVersion: the version named does not exist (ErrNoDraft: there is no draft).
	ErrNoSuchVersion = assistants.ErrNoVersion
	ErrNoDraft       = store.ErrNoDraft
)

// Start resolves ref on the set's assistant and writes a run of the set against that version
// (every case's row and replay in the same transaction), then enqueues it. It returns the run.
func (s *Service) Start(ctx context.Context, workspaceID, setID int64, ref model.VersionRef, by store.Author) (*store.TestSetRun, error) {
	run, err := s.Create(ctx, workspaceID, setID, ref, by)
	if err != nil {
		return nil, err
	}
	if s.Enqueue != nil {
		if err := s.Enqueue(context.WithoutCancel(ctx), run); err != nil {
			s.log().WarnContext(ctx, "could not enqueue a test set run; the sweep will", "run_id", run.ID, "err", err)
		}
	}
	return run, nil
}

// Create is Start without the task: the CLI executes the run itself.
func (s *Service) Create(ctx context.Context, workspaceID, setID int64, ref model.VersionRef, by store.Author) (*store.TestSetRun, error) {
	set, err := s.Store.TestSetByID(ctx, workspaceID, setID)
	if err != nil {
		return nil, err
	}
	a, err := s.Store.AssistantByID(ctx, workspaceID, set.AssistantID)
	if err != nil {
		return nil, err
	}
	v, err := s.Store.ResolveVersion(ctx, a, ref)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSuchVersion
	}
	if err != nil {
		return nil, err
	}
	cases, err := s.Store.TestCases(ctx, workspaceID, setID)
	if err != nil {
		return nil, err
	}
	if len(cases) == 0 {
		return nil, ErrNoCases
	}
	run := &store.TestSetRun{WorkspaceID: workspaceID, TestSetID: setID, AssistantID: a.ID, Version: v.Number,
		CreatedByID: by.ID, CreatedBy: by.Name}
	rcs := make([]store.RunCase, len(cases))
	for i, c := range cases {
		rcs[i] = store.RunCase{CaseID: c.ID, Turns: replay.TurnsFromCase(c.Turns)}
	}
	if _, err := s.Store.CreateTestSetRun(ctx, run, rcs); err != nil {
		return nil, err
	}
	return run, nil
}

// Due lists up to limit runs left pending or running for longer than age (their task may have
// been lost): the sweep enqueues each again (a duplicate task is harmless).
func (s *Service) Due(ctx context.Context, age time.Duration, limit int) ([]store.TestSetRun, error) {
	return s.Store.PendingTestSetRuns(ctx, s.now().Add(-age), limit)
}

// Exec names a run to execute.
type Exec struct {
	WorkspaceID, RunID int64
	// LastAttempt: no retry follows, so a retryable judge failure is recorded as the
	// judgement's error (the case fails) instead of being returned.
	LastAttempt bool
	// OnCase, when set, is told of every case this call finished (the CLI's progress).
	OnCase func(done, total int)
}

// Execute runs every unfinished case of the run and then writes its totals. It is idempotent
// (see the package comment). It returns an error only for what a retry may fix.
func (s *Service) Execute(ctx context.Context, e Exec) error {
	run, err := s.Store.TestSetRunByID(ctx, e.WorkspaceID, e.RunID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	if model.JobFinished(run.Status) {
		return nil
	}
	if err := s.Store.MarkTestSetRunRunning(ctx, run.WorkspaceID, run.ID); err != nil {
		return err
	}
	a, err := s.Store.AssistantByID(ctx, run.WorkspaceID, run.AssistantID)
	if err != nil {
		return err
	}
	cases, err := s.Store.TestRunCases(ctx, run.WorkspaceID, run.ID)
	if err != nil {
		return err
	}
	done := 0
	for i := range cases {
		if model.JobFinished(cases[i].Status) {
			done++
		}
	}
	for i := range cases {
		c := &cases[i]
		if model.JobFinished(c.Status) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		finished, err := s.executeCase(ctx, run, a, c, e.LastAttempt)
		if err != nil {
			return err
		}
		if finished {
			done++
			if e.OnCase != nil {
				e.OnCase(done, len(cases))
			}
		}
	}
	return s.finish(ctx, run)
}

// executeCase replays one case and grades it.
func (s *Service) executeCase(ctx context.Context, run *store.TestSetRun, a *store.Assistant, c *store.TestRunCase, last bool) (bool, error) {
	if c.ReplayID == nil {
		c.Status, c.Passed, c.Error = model.JobFailed, ptr(false), "the case's replay no longer exists"
		return s.Store.FinishTestRunCase(ctx, c, nil)
	}
	if s.Engine == nil {
		return false, errors.New("testruns: no replay engine")
	}
	if _, err := s.Engine.Execute(ctx, replay.Run{WorkspaceID: run.WorkspaceID, ReplayID: *c.ReplayID, LastAttempt: last}); err != nil {
		return false, err
	}
	rp, turns, err := s.Store.ReplayWithTurns(ctx, run.WorkspaceID, *c.ReplayID)
	if errors.Is(err, store.ErrNotFound) {
		c.Status, c.Passed, c.Error = model.JobFailed, ptr(false), "the case's replay no longer exists"
		return s.Store.FinishTestRunCase(ctx, c, nil)
	}
	if err != nil {
		return false, err
	}
	if !model.JobFinished(rp.Status) {
		return false, fmt.Errorf("test run %d: the replay %d of case %d is %s after its execution", run.ID, rp.ID, caseID(c), rp.Status)
	}
	c.Evaluations = orEmpty(rp.ReplayedEvaluations)
	c.LatencyMS = 0
	for _, t := range turns {
		c.LatencyMS += t.LatencyMS
	}
	if rp.Status == model.JobFailed {
		c.Status, c.Passed, c.Error, c.Judgements = model.JobFailed, ptr(false), "the replay failed: "+rp.Error, "[]"
		return s.Store.FinishTestRunCase(ctx, c, nil)
	}
	js, entries, err := s.judge(ctx, run, a, c, rp, turns, last)
	if err != nil {
		return false, err
	}
	passed, why := Passed(js, c.Evaluations)
	c.Status, c.Passed, c.Judgements, c.Error = model.JobDone, &passed, encodeJudgements(js), strings.Join(why, "; ")
	finished, err := s.Store.FinishTestRunCase(ctx, c, entries)
	if err == nil && finished {
		for _, e := range entries {
			usage.Count(s.Meter, *e)
		}
	}
	return finished, err
}

// finish writes the run's totals from its cases (every case is finished when it is called).
func (s *Service) finish(ctx context.Context, run *store.TestSetRun) error {
	cases, err := s.Store.TestRunCases(ctx, run.WorkspaceID, run.ID)
	if err != nil {
		return err
	}
	replays, err := s.Store.ReplaysOfTestRun(ctx, run.WorkspaceID, run.ID)
	if err != nil {
		return err
	}
	t := ComputeTotals(figures(cases, replays))
	if _, err := s.Store.FinishTestSetRun(ctx, run.WorkspaceID, run.ID, model.JobDone, encodeTotals(t), ""); err != nil {
		return err
	}
	return nil
}

// figures are the cases' figures for the totals.
func figures(cases []store.TestRunCase, replays map[int64]*store.Replay) []CaseFigures {
	out := make([]CaseFigures, 0, len(cases))
	for _, c := range cases {
		f := CaseFigures{Done: model.JobFinished(c.Status), Passed: c.Passed != nil && *c.Passed,
			Evaluations: c.Evaluations, CostNanos: c.CostNanos, LatencyMS: c.LatencyMS}
		if c.ReplayID != nil {
			if r := replays[*c.ReplayID]; r != nil {
				f.Turns = r.TurnsDone
			}
		}
		out = append(out, f)
	}
	return out
}

func caseID(c *store.TestRunCase) int64 {
	if c.CaseID == nil {
		return 0
	}
	return *c.CaseID
}

func ptr[T any](v T) *T { return &v }

func orEmpty(e store.ReplayEvaluations) store.ReplayEvaluations {
	if e == nil {
		return store.ReplayEvaluations{}
	}
	return e
}

// JudgeRequestID is the ledger's request id of the judgement of turn idx of a run's case.
func JudgeRequestID(runID, caseID int64, idx int) string {
	return "testrun:" + strconv.FormatInt(runID, 10) + ":case:" + strconv.FormatInt(caseID, 10) + ":judge:" + strconv.Itoa(idx)
}

// judge judges every turn with an expected answer: with the LLM (one structured call per
// turn) or, offline, by the word-overlap rule. It returns the ledger rows of its calls, to be
// written with the case.
func (s *Service) judge(ctx context.Context, run *store.TestSetRun, a *store.Assistant, c *store.TestRunCase, rp *store.Replay, turns []store.ReplayTurn, last bool) ([]Judgement, []*store.UsageEntry, error) {
	js := []Judgement{}
	var entries []*store.UsageEntry
	var prices *usage.Table
	for _, t := range turns {
		if strings.TrimSpace(t.Expected) == "" {
			continue
		}
		replayed := ""
		if t.Replayed != nil {
			replayed = *t.Replayed
		}
		if s.LLM == nil || s.LLM.Offline() {
			js = append(js, OfflineJudge(t.Idx, t.Expected, replayed))
			continue
		}
		reqID := JudgeRequestID(run.ID, caseID(c), t.Idx)
		resp, err := s.LLM.Complete(ctx, JudgeRequest(a.Model, t.Customer, t.Expected, replayed, reqID))
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			if s.Meter != nil {
				s.Meter.LLMError(usage.PurposeReplay, a.Model)
			}
			if llm.IsRetryable(err) && !last {
				return nil, nil, err
			}
			js = append(js, Judgement{Turn: t.Idx, Method: MethodLLM, Error: safeError(err)})
			continue
		}
		if prices == nil {
			prices = workspace.PricesOf(ctx, s.Store, s.Prices, run.WorkspaceID, s.log())
		}
		aid, rid := a.ID, rp.ID
		e, _, err := usage.Entry(prices, usage.Call{WorkspaceID: run.WorkspaceID, AssistantID: &aid, ReplayID: &rid,
			RequestID: reqID, Purpose: usage.PurposeReplay, Model: resp.Model,
			Tokens: usage.Tokens{Prompt: resp.Usage.PromptTokens, Cached: resp.Usage.CachedTokens, Completion: resp.Usage.CompletionTokens}})
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, &e)
		j := ParseJudgement(resp.Content)
		j.Turn = t.Idx
		js = append(js, j)
	}
	return js, entries, nil
}

func safeError(err error) string {
	var le *llm.Error
	if errors.As(err, &le) {
		return le.Error()
	}
	return "the language model did not answer"
}
