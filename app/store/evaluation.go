package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// The evaluation engine's storage (issue 14 item 2): a pending row of evaluation_runs is a
// request to evaluate a conversation's end; ApplyEvaluation finishes it in one transaction.

// CreateEvaluationRun inserts a pending run (r.Status and r.CreatedAt are set here) unless
// the run with its key (conversation, end, evaluators version, run) exists already: then r is
// that row and created is false. The unique key decides (ON CONFLICT DO NOTHING), so an end's
// hook and a sweep racing for the same end write one run.
func (s *Store) CreateEvaluationRun(ctx context.Context, r *EvaluationRun) (created bool, err error) {
	if r.WorkspaceID == 0 || r.ConversationID == 0 || r.EndSeq <= 0 || r.Run < 0 {
		return false, errors.New("evaluation run: workspace, conversation and end are required")
	}
	r.ID = 0
	r.Status = model.EvalPending
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now()
	}
	r.CreatedAt = r.CreatedAt.UTC().Truncate(time.Microsecond)
	res, err := s.DB.NewInsert().Model(r).
		On("CONFLICT (conversation_id, end_seq, evaluators_version, run) DO NOTHING").
		Returning("id").Exec(ctx)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, err
	} else if n == 1 && r.ID != 0 {
		return true, nil
	} else if n == 1 {
		created = true
	}
	err = s.DB.NewSelect().Model(r).
		Where("conversation_id = ? AND workspace_id = ? AND end_seq = ? AND evaluators_version = ? AND run = ?",
			r.ConversationID, r.WorkspaceID, r.EndSeq, r.EvaluatorsVersion, r.Run).Scan(ctx)
	return created, notFound(err)
}

// EvaluationRunByID loads one run of the workspace.
func (s *Store) EvaluationRunByID(ctx context.Context, workspaceID, id int64) (*EvaluationRun, error) {
	r := new(EvaluationRun)
	if err := s.DB.NewSelect().Model(r).Where("id = ? AND workspace_id = ?", id, workspaceID).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return r, nil
}

// ConversationEndBySeq loads one end of a conversation.
func (s *Store) ConversationEndBySeq(ctx context.Context, workspaceID, conversationID int64, seq int) (*ConversationEnd, error) {
	e := new(ConversationEnd)
	err := s.DB.NewSelect().Model(e).
		Where("conversation_id = ? AND workspace_id = ? AND seq = ?", conversationID, workspaceID, seq).Scan(ctx)
	if err != nil {
		return nil, notFound(err)
	}
	return e, nil
}

// EvaluationValues lists the values of a run, by name.
func (s *Store) EvaluationValues(ctx context.Context, workspaceID, runID int64) ([]EvaluationValue, error) {
	var out []EvaluationValue
	err := s.DB.NewSelect().Model(&out).Where("run_id = ? AND workspace_id = ?", runID, workspaceID).Order("name ASC").Scan(ctx)
	return out, err
}

// EvaluationRequestID is the ledger's request id of a run's LLM call:
// "evaluate:<conversation>:<end>:<evaluators version>:<run>". A retried run records its call once.
func EvaluationRequestID(r *EvaluationRun) string {
	return "evaluate:" + strconv.FormatInt(r.ConversationID, 10) + ":" + strconv.Itoa(r.EndSeq) + ":" +
		strconv.Itoa(r.EvaluatorsVersion) + ":" + strconv.Itoa(r.Run)
}

// EvaluationResult is a finished run, stored by ApplyEvaluation.
type EvaluationResult struct {
	WorkspaceID int64
	RunID       int64
	Status      string // model.EvalDone or EvalFailed
	Provider    string // the model that answered, or "offline"
	Error       string
	// Values are the run's values (Status, Value, Reason, Error, Name, Builtin,
	// EvaluatorVersion; the ids are set here).
	Values []EvaluationValue
	// Usage is the ledger row of the LLM call (purpose evaluation), nil when none was made.
	Usage *UsageEntry
}

// EvaluationApplied is what ApplyEvaluation did.
type EvaluationApplied struct {
	// Replayed: the run was finished already (a duplicate or retried task): nothing written.
	Replayed bool
	// Latest: the run's values became the conversation's latest.
	Latest bool
	// ConversationID is the run's conversation.
	ConversationID int64
}

// ApplyEvaluation finishes a pending run in one transaction: the run's status, provider,
// error, request id, cost and finish time; its values; the LLM call's ledger row (once per
// request id, ON CONFLICT DO NOTHING) with its tokens and cost added to the conversation's
// totals and to cost_evaluation_nanos; the end's evaluated_at. When no later run of the
// conversation has finished, the run's values become the latest (the previous latest ones
// are unmarked) and the conversation's summary, outcome, sentiment, csat_estimate and
// language are set from its built-in values ("" or NULL for a failed one), and its
// evaluation_status from the run when the run is of the current end. A run that is not
// pending any more is left alone (Replayed).
func (s *Store) ApplyEvaluation(ctx context.Context, res EvaluationResult) (EvaluationApplied, error) {
	var out EvaluationApplied
	if res.Status != model.EvalDone && res.Status != model.EvalFailed {
		return out, errors.New("evaluation result: status must be done or failed")
	}
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		out = EvaluationApplied{}
		run := new(EvaluationRun)
		if err := tx.NewSelect().Model(run).Where("id = ? AND workspace_id = ?", res.RunID, res.WorkspaceID).Scan(ctx); err != nil {
			return notFound(err)
		}
		out.ConversationID = run.ConversationID
		if err := s.lockConversation(ctx, tx, res.WorkspaceID, run.ConversationID); err != nil {
			return err
		}
		t := now()
		var cost int64
		requestID := ""
		if e := res.Usage; e != nil {
			if e.WorkspaceID != res.WorkspaceID || e.ConversationID == nil || *e.ConversationID != run.ConversationID || e.Purpose != PurposeEvaluation {
				return ErrUsageEntryInvalid
			}
			requestID = e.RequestID
		}
		// The run's row decides who finishes it: a duplicate task finds it finished.
		upd, err := tx.NewUpdate().Model((*EvaluationRun)(nil)).
			Set("status = ?", res.Status).Set("provider = ?", truncate(res.Provider, 200)).
			Set("error = ?", truncate(res.Error, 2000)).Set("request_id = ?", requestID).
			Set("finished_at = ?", t).
			Where("id = ? AND workspace_id = ? AND status = ?", run.ID, res.WorkspaceID, model.EvalPending).Exec(ctx)
		if ok, err := affected(upd, err); err != nil {
			return err
		} else if !ok {
			out.Replayed = true
			return nil
		}
		if e := res.Usage; e != nil {
			inserted, err := insertUsage(ctx, tx, e)
			if err != nil {
				return err
			}
			if inserted {
				cost = e.CostNanos
				if err := addUsageToConversation(ctx, tx, e); err != nil {
					return err
				}
				if _, err := tx.NewUpdate().Model((*EvaluationRun)(nil)).Set("cost_nanos = ?", cost).
					Where("id = ?", run.ID).Exec(ctx); err != nil {
					return err
				}
			}
		}
		// Latest unless a later run (a later end, or a later run of the same end) finished first.
		var later int
		if err := tx.NewSelect().Model((*EvaluationRun)(nil)).ColumnExpr("count(*)").
			Where("conversation_id = ? AND workspace_id = ? AND id <> ? AND status <> ?", run.ConversationID, res.WorkspaceID, run.ID, model.EvalPending).
			Where("(end_seq > ? OR (end_seq = ? AND run > ?))", run.EndSeq, run.EndSeq, run.Run).
			Scan(ctx, &later); err != nil {
			return err
		}
		out.Latest = later == 0
		if out.Latest {
			if _, err := tx.NewUpdate().Model((*EvaluationValue)(nil)).Set("latest = ?", false).
				Where("conversation_id = ? AND workspace_id = ? AND latest = ?", run.ConversationID, res.WorkspaceID, true).Exec(ctx); err != nil {
				return err
			}
		}
		if len(res.Values) > 0 {
			vals := make([]EvaluationValue, len(res.Values))
			for i, v := range res.Values {
				v.ID = 0
				v.WorkspaceID, v.ConversationID, v.RunID, v.Latest = res.WorkspaceID, run.ConversationID, run.ID, out.Latest
				v.Reason = truncate(v.Reason, 1000)
				v.Error = truncate(v.Error, 1000)
				vals[i] = v
			}
			if _, err := tx.NewInsert().Model(&vals).On("CONFLICT (run_id, name) DO NOTHING").Exec(ctx); err != nil {
				return err
			}
		}
		if out.Latest {
			q := tx.NewUpdate().Model((*Conversation)(nil)).Set("updated_at = ?", t).
				Where("id = ? AND workspace_id = ?", run.ConversationID, res.WorkspaceID)
			text := func(name string) string {
				for _, v := range res.Values {
					if v.Name == name && v.Builtin && v.Status == model.EvalDone && v.Value != nil {
						return *v.Value
					}
				}
				return ""
			}
			var csat *int
			if n, err := strconv.Atoi(text(model.EvalCSATEstimate)); err == nil {
				csat = &n
			}
			q = q.Set("summary = ?", text(model.EvalSummary)).Set("outcome = ?", text(model.EvalOutcome)).
				Set("sentiment = ?", text(model.EvalSentiment)).Set("csat_estimate = ?", csat).
				Set("language = ?", text(model.EvalLanguage)).
				Set("evaluation_status = CASE WHEN end_count = ? THEN ? ELSE evaluation_status END", run.EndSeq, res.Status)
			if _, err := q.Exec(ctx); err != nil {
				return err
			}
		}
		_, err = tx.NewUpdate().Model((*ConversationEnd)(nil)).Set("evaluated_at = ?", t).
			Where("conversation_id = ? AND workspace_id = ? AND seq = ? AND evaluated_at IS NULL", run.ConversationID, res.WorkspaceID, run.EndSeq).Exec(ctx)
		return err
	})
	if err != nil {
		return EvaluationApplied{}, err
	}
	return out, nil
}

// UnevaluatedEnds lists up to limit ends that happened before endedBefore and have no run at
// all (their hook's insert was lost: the process died between the end and it). The sweep
// creates their run 0.
func (s *Store) UnevaluatedEnds(ctx context.Context, endedBefore time.Time, limit int) ([]ConversationEnd, error) {
	var out []ConversationEnd
	err := s.DB.NewSelect().Model(&out).
		Where("evaluated_at IS NULL AND ended_at < ?", endedBefore.UTC().Truncate(time.Microsecond)).
		Where("NOT EXISTS (SELECT 1 FROM evaluation_runs AS r WHERE r.conversation_id = conversation_end.conversation_id AND r.end_seq = conversation_end.seq)").
		Order("ended_at ASC", "id ASC").Limit(int64(limit)).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return out, err
}

// PendingEvaluationRuns lists up to limit runs still pending that were created before
// createdBefore (their task may have been lost with Redis): the sweep enqueues them again.
func (s *Store) PendingEvaluationRuns(ctx context.Context, createdBefore time.Time, limit int) ([]EvaluationRun, error) {
	var out []EvaluationRun
	err := s.DB.NewSelect().Model(&out).
		Where("status = ? AND created_at < ?", model.EvalPending, createdBefore.UTC().Truncate(time.Microsecond)).
		Order("created_at ASC", "id ASC").Limit(int64(limit)).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return out, err
}
