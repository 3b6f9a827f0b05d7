package workers

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/metrics"
)

// Handlers are all the task handlers of the product.
type Handlers struct {
	Inbound     *Inbound
	Maintenance *Maintenance
	WhatsApp    *WhatsApp
	// Extract runs variable extractions; Tally keeps the usage rollups (issue 7).
	Extract *Extract
	Tally   *Tally
	// Replies finishes promised replies (the reply outbox's sweep and widget reply task).
	Replies *Replies
	// Mail sends the mail outbox (send task and sweep).
	Mail *Mail
	// Audit prunes the audit log (PARLEY_AUDIT_RETENTION).
	Audit *Audit
	// Ends runs the end sweep (idle conversations, issue 14).
	Ends *Ends
	// Evaluation runs the evaluations of conversation ends and their sweep (issue 14).
	Evaluation *Evaluation
	// Reeval runs the bulk "Evaluate again" jobs (issue 14).
	Reeval *Reeval
	// Tasks is the installation's task factory: a task of another installation sharing the
	// Redis is handed back (ErrForeignTask) instead of being run on this one's database.
	Tasks *Tasks
	// issue 14: analytics. Quality keeps the quality rollups (resolution, sentiment, CSAT,
	// ratings, feedback).
	Quality *Quality
	// issue 15: Replay runs replays of conversations and their sweep.
	Replay *Replay
	// issue 15: test set runs (the run task and its sweep).
	TestRuns *TestRuns
	// Metrics counts task outcomes and durations; Log gets one line per task run (observe.go).
	Metrics *metrics.Metrics
	Log     *slog.Logger
}

// NewMux routes every task type to its handler.
func NewMux(h Handlers) *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.Use(Observe(h.Metrics, h.Log))
	if h.Tasks != nil {
		mux.Use(h.Tasks.OwnOnly)
	}
	mux.HandleFunc(TypeInboundProcess, h.Inbound.HandleProcess)
	mux.HandleFunc(TypeInboundSweep, h.Inbound.HandleSweep)
	mux.HandleFunc(TypeInboundPrune, h.Inbound.HandlePrune)
	mux.HandleFunc(TypeConversationsDelete, h.Maintenance.HandleDeleteMatching)
	mux.HandleFunc(TypeRetentionApply, h.Maintenance.HandleRetention)
	mux.HandleFunc(TypeWhatsAppWindowExpire, h.WhatsApp.HandleWindowExpire)
	mux.HandleFunc(TypeWhatsAppWindowSweep, h.WhatsApp.HandleWindowSweep)
	mux.HandleFunc(TypeWhatsAppReply, h.WhatsApp.HandleReply)
	mux.HandleFunc(TypeWhatsAppCSAT, h.WhatsApp.HandleCSAT)
	mux.HandleFunc(TypeWhatsAppCSATSweep, h.WhatsApp.HandleCSATSweep)
	if h.Extract != nil {
		mux.HandleFunc(TypeConversationExtract, h.Extract.HandleExtract)
		mux.HandleFunc(TypeExtractionSweep, h.Extract.HandleSweep)
	}
	if h.Replies != nil {
		mux.HandleFunc(TypeChatReply, h.Replies.HandleChatReply)
		mux.HandleFunc(TypeReplySweep, h.Replies.HandleSweep)
	}
	if h.Mail != nil {
		mux.HandleFunc(TypeMailSend, h.Mail.HandleSend)
		mux.HandleFunc(TypeMailSweep, h.Mail.HandleSweep)
	}
	if h.Audit != nil {
		mux.HandleFunc(TypeAuditPrune, h.Audit.HandlePrune)
	}
	if h.Ends != nil {
		mux.HandleFunc(TypeEndSweep, h.Ends.HandleSweep)
	}
	if h.Evaluation != nil {
		mux.HandleFunc(TypeEvaluationRun, h.Evaluation.HandleRun)
		mux.HandleFunc(TypeEvaluationSweep, h.Evaluation.HandleSweep)
	}
	if h.Reeval != nil {
		mux.HandleFunc(TypeConversationsEvaluate, h.Reeval.HandleEvaluateMatching)
	}
	if h.Tally != nil {
		mux.HandleFunc(TypeUsageTally, h.Tally.HandleTally)
		mux.HandleFunc(TypeUsageReconcile, h.Tally.HandleReconcile)
	}
	// issue 14: analytics
	if h.Quality != nil {
		mux.HandleFunc(TypeQualityTally, h.Quality.HandleTally)
		mux.HandleFunc(TypeQualityReconcile, h.Quality.HandleReconcile)
	}
	// issue 15: replays
	if h.Replay != nil {
		mux.HandleFunc(TypeReplayRun, h.Replay.HandleRun)
		mux.HandleFunc(TypeReplaySweep, h.Replay.HandleSweep)
	}
	// issue 15: test set runs
	if h.TestRuns != nil {
		mux.HandleFunc(TypeTestRunRun, h.TestRuns.HandleRun)
		mux.HandleFunc(TypeTestRunSweep, h.TestRuns.HandleSweep)
	}
	return mux
}

// Schedule is every periodic task, run by exactly one scheduler.
type Schedule struct {
	SweepInterval time.Duration
	Tasks         *Tasks
}

// Entries returns the (cron spec, task) pairs to register.
func (s Schedule) Entries() []ScheduleEntry {
	every := s.SweepInterval
	if every <= 0 {
		every = time.Minute
	}
	t := s.Tasks
	return []ScheduleEntry{
		{Spec: "@every " + every.String(), Task: t.InboundSweep()},
		{Spec: "17 3 * * *", Task: t.Retention()},   // daily, 03:17 UTC
		{Spec: "@every 1h", Task: t.InboundPrune()}, // raw events past PARLEY_INBOUND_RETENTION
		{Spec: "@every 1h", Task: t.AuditPrune()},   // audit entries past PARLEY_AUDIT_RETENTION
		// Windows whose expiry task Redis lost: every sweep period, so that they close within two.
		{Spec: windowSweepSpec(s.SweepInterval), Task: t.WhatsAppWindowSweep()},
		// Replies that are due and not done (their task was lost): every sweep period.
		{Spec: "@every " + every.String(), Task: t.ReplySweep()},
		{Spec: "@every 1m", Task: t.UsageTally()},
		{Spec: "@every 15m", Task: t.UsageReconcile()},
		{Spec: "@every 1m", Task: t.ExtractionSweep()},
		// Mail whose send task was lost, or whose retries ran out: every sweep period.
		{Spec: "@every " + every.String(), Task: t.MailSweep()},
		// issue 14: conversations idle past their type's idle time end.
		{Spec: "@every 1m", Task: t.EndSweep()},
		// Ends without an evaluation run, and runs left pending (their task was lost): every minute.
		{Spec: "@every 1m", Task: t.EvaluationSweep()},
		// issue 14: analytics (the quality rollups of the touched days; the recent days)
		{Spec: "@every 1m", Task: t.QualityTally()},
		{Spec: "@every 15m", Task: t.QualityReconcile()},
		// WhatsApp CSAT questions whose task was lost (issue 14): every sweep period.
		{Spec: "@every " + every.String(), Task: t.WhatsAppCSATSweep()},
		// issue 15: replays left pending or running (their task was lost): every minute.
		{Spec: "@every 1m", Task: t.ReplaySweep()},
		// issue 15: test set runs left pending or running (their task was lost): every minute.
		{Spec: "@every 1m", Task: t.TestRunSweep()},
	}
}

// ScheduleEntry is one periodic task.
type ScheduleEntry struct {
	Spec string
	Task *asynq.Task
}

// windowSweepSpec runs the window sweep every sweep period (every minute by default).
func windowSweepSpec(every time.Duration) string {
	if every <= 0 || every == time.Minute {
		return "@every 1m"
	}
	return "@every " + every.String()
}

// ErrForeignTask is returned for a task of another installation sharing this Redis: asynq
// retries it soon (RetryDelay), so that a worker of its own installation takes it.
var ErrForeignTask = errors.New("task of another installation sharing this Redis: left to its workers")

// OwnOnly is the mux middleware that runs only this installation's tasks.
func (t *Tasks) OwnOnly(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, task *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		if !t.Owns(id, task.Payload()) {
			return ErrForeignTask
		}
		return next.ProcessTask(ctx, task)
	})
}

// RetryDelay is the worker's retry delay: a foreign task goes back at once (a second), every
// other failure backs off as asynq's default does.
func RetryDelay(n int, err error, task *asynq.Task) time.Duration {
	if errors.Is(err, ErrForeignTask) {
		return time.Second
	}
	return asynq.DefaultRetryDelayFunc(n, err, task)
}
