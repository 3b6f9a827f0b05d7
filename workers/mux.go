package workers

import (
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
	// Metrics counts task outcomes and durations; Log gets one line per task run (observe.go).
	Metrics *metrics.Metrics
	Log     *slog.Logger
}

// NewMux routes every task type to its handler.
func NewMux(h Handlers) *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.Use(Observe(h.Metrics, h.Log))
	mux.HandleFunc(TypeInboundProcess, h.Inbound.HandleProcess)
	mux.HandleFunc(TypeInboundSweep, h.Inbound.HandleSweep)
	mux.HandleFunc(TypeInboundPrune, h.Inbound.HandlePrune)
	mux.HandleFunc(TypeConversationsDelete, h.Maintenance.HandleDeleteMatching)
	mux.HandleFunc(TypeRetentionApply, h.Maintenance.HandleRetention)
	mux.HandleFunc(TypeWhatsAppWindowExpire, h.WhatsApp.HandleWindowExpire)
	mux.HandleFunc(TypeWhatsAppWindowSweep, h.WhatsApp.HandleWindowSweep)
	mux.HandleFunc(TypeWhatsAppReply, h.WhatsApp.HandleReply)
	if h.Extract != nil {
		mux.HandleFunc(TypeConversationExtract, h.Extract.HandleExtract)
		mux.HandleFunc(TypeExtractionSweep, h.Extract.HandleSweep)
	}
	if h.Tally != nil {
		mux.HandleFunc(TypeUsageTally, h.Tally.HandleTally)
		mux.HandleFunc(TypeUsageReconcile, h.Tally.HandleReconcile)
	}
	return mux
}

// Schedule is every periodic task, run by exactly one scheduler.
type Schedule struct {
	SweepInterval time.Duration
}

// Entries returns the (cron spec, task) pairs to register.
func (s Schedule) Entries() []ScheduleEntry {
	every := s.SweepInterval
	if every <= 0 {
		every = time.Minute
	}
	return []ScheduleEntry{
		{Spec: "@every " + every.String(), Task: NewInboundSweepTask()},
		{Spec: "17 3 * * *", Task: NewRetentionTask()},   // daily, 03:17 UTC
		{Spec: "@every 1h", Task: NewInboundPruneTask()}, // raw events past PARLEY_INBOUND_RETENTION
		// Windows whose expiry task Redis lost: every sweep period, so that they close within two.
		{Spec: windowSweepSpec(s.SweepInterval), Task: NewWhatsAppWindowSweepTask()},
		{Spec: "@every 1m", Task: NewUsageTallyTask()},
		{Spec: "@every 15m", Task: NewUsageReconcileTask()},
		{Spec: "@every 1m", Task: NewExtractionSweepTask()},
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
