// Package app is the container: it wires Parley's parts together (configuration, database,
// Redis, the job queue, the live-update bus) and builds every feature service once
// (Conversations, Workspace, Chat, WhatsApp, Extractor); the web server and the task handlers
// receive them from here instead of building their own. The roles (web, worker, scheduler)
// are started from app/cli.
//
// It may import every feature package, the store, the adapters and workers' task constructors,
// but never app/web or views (app/cli starts the roles); it holds no rule of its own.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app/account"
	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/evaluation"
	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/extract"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/logctx"
	"github.com/parleyhq/parley/app/mail"
	"github.com/parleyhq/parley/app/metrics"
	"github.com/parleyhq/parley/app/ratelimit"
	"github.com/parleyhq/parley/app/reeval"
	"github.com/parleyhq/parley/app/replay"
	"github.com/parleyhq/parley/app/review"
	"github.com/parleyhq/parley/app/session"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/team"
	"github.com/parleyhq/parley/app/testruns"
	"github.com/parleyhq/parley/app/testsets"
	"github.com/parleyhq/parley/app/usage"
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/app/workspace"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/workers"
)

// App holds the shared state of one Parley process.
type App struct {
	Config *config.Config
	Log    *slog.Logger
	Store  *store.Store
	Redis  redis.UniversalClient
	Queue  *asynq.Client
	// Tasks builds and enqueues this installation's tasks (ids prefixed with its random id,
	// kept in the database): every enqueuer gets it from here.
	Tasks  *workers.Tasks
	Events *events.Bus
	Keys   *auth.Keys
	// Conversations changes conversations and publishes live updates.
	Conversations *conversation.Service
	// LLM answers; Prices prices its calls; Chat produces replies with both.
	LLM    llm.Provider
	Prices *usage.Table
	Chat   *chat.Responder
	// Workspace reads and atomically changes workspace settings.
	Workspace *workspace.Service
	// WhatsApp receives WhatsApp events, sends through Meta's Graph API and replies with Chat.
	WhatsApp *whatsapp.Service
	// Extractor fills conversation variables (the debounced extraction task).
	Extractor *extract.Extractor
	// Evaluations judge every end of a conversation (issue 14): the end's hook creates and
	// enqueues its run, the worker executes it.
	Evaluations *evaluation.Service
	// RateLimit counts requests per client in Redis (in-process while Redis does not answer):
	// the widget's limits and sign-in throttling.
	RateLimit *ratelimit.Limiter
	// Accounts signs people in (throttled per account and client address), changes their
	// name, email and password, and resets passwords by one-time links.
	Accounts *account.Service
	// Mail queues email in the database and sends it from worker tasks (PARLEY_SMTP_URL;
	// Enabled() is false without it).
	Mail *mail.Service
	// Team holds memberships, roles and workspaces per person.
	Team *team.Service
	// Sessions keeps the dashboard's sessions in the database (idle and absolute expiry,
	// the session's CSRF token, listing and revoking a user's sessions).
	Sessions *session.Manager
	// Audit reads, writes and prunes the audit log (app/audit).
	Audit *audit.Service
	// Reeval is "Evaluate again" (issue 14): new evaluation runs of a conversation or of every
	// conversation matching a filter. Its Enqueue hook is the evaluation engine's task.
	Reeval *reeval.Service
	// Review is the review workflow: review status, assignee, tags, notes, corrections (issue 14).
	Review *review.Service
	// Versions saves and publishes assistant versions (issue 15); its Gate is the publish gate.
	Versions *assistants.Versions
	// Metrics is the process's Prometheus registry and counters (shared by web and workers).
	Metrics *metrics.Metrics
	// issue 15: Replays starts replays of conversations (the row, then its task);
	// ReplayEngine executes them (and test set runs' cases).
	Replays      *replay.Service
	ReplayEngine *replay.Engine

	// issue 15: test sets and their cases (app/testsets).
	TestSets *testsets.Service
	// TestRuns runs test sets against assistant versions (issue 15): Start writes the run and
	// enqueues its task, the worker executes it with the replay engine.
	TestRuns *testruns.Service

	mini *miniredis.Miniredis
}

// Options tweak Open for tests and tools.
type Options struct {
	Logger *slog.Logger
	// SkipMigrate leaves migrations alone (web and worker roles in production: the release
	// phase runs them). The all-in-one mode migrates at start.
	SkipMigrate bool
}

// Open connects to the database and Redis described by cfg.
func Open(ctx context.Context, cfg *config.Config, opt Options) (*App, error) {
	log := opt.Logger
	if log == nil {
		log = NewLogger(cfg, os.Stderr)
	}
	// Records logged with a request's or a task's context carry its request_id, task, task_id.
	log = logctx.Logger(log)
	if err := cfg.EnsureSecretKey(); err != nil {
		return nil, err
	}
	keys, err := auth.DeriveKeys(cfg.SecretKey)
	if err != nil {
		return nil, &config.Error{Var: "PARLEY_SECRET_KEY", Msg: err.Error()}
	}
	a := &App{Config: cfg, Log: log, Keys: keys, Metrics: metrics.New()}
	a.Store, err = store.Open(ctx, cfg.DatabaseURL, cfg.SQLitePath)
	if err != nil {
		return nil, err
	}
	if !opt.SkipMigrate {
		names, err := a.Store.MigrateUp(ctx)
		if err != nil {
			a.Close()
			return nil, err
		}
		for _, n := range names {
			log.Info("migration applied", "name", n)
		}
	}
	if err := a.openRedis(ctx); err != nil {
		a.Close()
		return nil, err
	}
	a.Queue = asynq.NewClientFromRedisClient(a.Redis)
	prefix, err := a.Store.InstallationPrefix(ctx)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("installation id: %w", err)
	}
	if a.Tasks, err = workers.NewTasks(prefix, a.Queue); err != nil {
		a.Close()
		return nil, err
	}
	queues := make([]string, 0, len(workers.QueuePriorities))
	for q := range workers.QueuePriorities {
		queues = append(queues, q)
	}
	a.Metrics.WatchQueues(asynq.NewInspectorFromRedisClient(a.Redis), queues)
	a.Events = events.NewBus(a.Redis, log)
	a.RateLimit = ratelimit.New(a.Redis, log)
	a.Mail = mail.New(a.Store, cfg, log)
	a.Mail.Notify = a.Tasks.NotifyMail
	a.Accounts = &account.Service{Store: a.Store, Limits: a.RateLimit, Mail: a.Mail, BaseURL: cfg.BaseURL}
	a.Team = &team.Service{Store: a.Store, OpenSignup: cfg.OpenSignup, Mailer: a.Mail} // invites are emailed when mail is configured
	a.Sessions = session.New(a.Store, log, session.Options{Idle: cfg.SessionIdle, Max: cfg.SessionMax, Secure: cfg.SecureCookies})
	a.Workspace = &workspace.Service{Store: a.Store}
	a.Audit = &audit.Service{Store: a.Store, Retention: a.Config.AuditRetention}
	a.Conversations = &conversation.Service{Store: a.Store, Events: a.Events}
	a.Review = &review.Service{Store: a.Store, Events: a.Events}
	a.Conversations.OnUserMessage = (&workers.ExtractScheduler{Tasks: a.Tasks, Log: log}).OnUserMessage // debounced variable extraction
	// An end's work: the WhatsApp CSAT question (issue 14), after any hook already set.
	a.Conversations.OnEnded = workers.ChainOnEnded(a.Conversations.OnEnded, (&workers.CSATScheduler{Tasks: a.Tasks, Log: log}).OnEnded)
	if a.Prices, err = usage.Load(cfg); err != nil {
		a.Close()
		return nil, err
	}
	if a.LLM, err = llm.New(cfg); err != nil {
		a.Close()
		return nil, err
	}
	if a.LLM.Offline() {
		log.Info("PARLEY_LLM_API_KEY is not set: the built-in offline provider answers (it greets and asks for the missing variables)")
	}
	a.Chat = &chat.Responder{Store: a.Store, LLM: a.LLM, Prices: a.Prices, Conversations: a.Conversations, Log: log, Meter: a.Metrics, Redis: a.Redis, Events: a.Events}
	graph := whatsapp.NewClient(cfg.WhatsAppGraphURL)
	graph.URL = func() string { return a.Config.WhatsAppGraphURL }
	a.WhatsApp = &whatsapp.Service{Store: a.Store, Conversations: a.Conversations, Client: graph, Decrypt: a.Keys.Decrypt, Window: cfg.WhatsAppWindow, Log: log,
		// AI replies come from the chat responder: it stores the reply with its usage row once per
		// request id, and the service sends that message (or the polite fallback) through Meta.
		Replier: whatsapp.ReplierFunc(func(ctx context.Context, c *store.Conversation, as *store.Assistant, id string) (*store.Message, error) {
			r, err := a.Chat.ReplyLocked(ctx, c, as, id)
			return r.Message, err
		})}
	a.Reeval = &reeval.Service{Store: a.Store, Events: a.Events, Jobs: conversation.BulkJobs{Redis: a.Redis, Kind: reeval.JobKind}, Offline: a.LLM.Offline()}
	a.Extractor = &extract.Extractor{Store: a.Store, LLM: a.LLM, Prices: a.Prices, Conversations: a.Conversations, Log: log, Meter: a.Metrics}
	a.Evaluations = &evaluation.Service{Store: a.Store, LLM: a.LLM, Prices: a.Prices, Conversations: a.Conversations, Log: log, Meter: a.Metrics}
	a.Conversations.OnEnded = workers.ChainOnEnded(a.Conversations.OnEnded, (&workers.Evaluation{Evaluations: a.Evaluations, Tasks: a.Tasks, Log: log}).OnEnded) // the end's evaluation (run 0)
	// "Evaluate again" makes a pending run; its task runs it now (the sweep would, within a minute).
	a.Reeval.Enqueue = func(ctx context.Context, run *store.EvaluationRun) {
		if err := a.Tasks.EnqueueEvaluation(ctx, run); err != nil {
			log.WarnContext(ctx, "enqueue evaluation run; the sweep will", "run_id", run.ID, "err", err)
		}
	}
	// issue 15: assistant versions (the publish gate is wired here)
	a.Versions = &assistants.Versions{Store: a.Store}
	// issue 15: replays
	a.ReplayEngine = &replay.Engine{Store: a.Store, LLM: a.LLM, Prices: a.Prices, Evaluations: a.Evaluations, Log: log, Meter: a.Metrics}
	a.Replays = &replay.Service{Store: a.Store, Enqueue: a.Tasks.EnqueueReplay, Log: log}
	a.TestSets = &testsets.Service{Store: a.Store} // issue 15: test sets
	// issue 15: test set runs
	a.TestRuns = &testruns.Service{Store: a.Store, LLM: a.LLM, Prices: a.Prices, Log: log, Meter: a.Metrics, Enqueue: a.Tasks.EnqueueTestRun,
		Engine: a.ReplayEngine}
	// the publish gate: a version publishes only after a test set run that did not regress
	a.Versions.Gate = a.TestRuns.Gate
	return a, nil
}

func (a *App) openRedis(ctx context.Context) error {
	if a.Config.RedisURL == "" {
		// The in-process Redis listens on loopback, where every local user can reach it: it
		// answers only with a password drawn afresh at each start, which never leaves this
		// process (anyone else could otherwise enqueue a bulk delete for any workspace).
		password := rand.Text()
		m := miniredis.NewMiniRedis()
		m.RequireAuth(password)
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return fmt.Errorf("start in-process redis: %w", err)
		}
		a.mini = m
		a.Redis = redis.NewClient(&redis.Options{Addr: m.Addr(), Password: password})
		a.Log.Warn("REDIS_URL is not set: using an in-process Redis; queued jobs do not survive a restart (the database does, and the sweeps re-enqueue what was not processed)", "addr", m.Addr())
		return nil
	}
	opts, err := redis.ParseURL(a.Config.RedisURL)
	if err != nil {
		return &config.Error{Var: "REDIS_URL", Msg: err.Error()}
	}
	a.Redis = redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.Redis.Ping(pctx).Err(); err != nil {
		// Not fatal: the web role still serves and stores; /readyz reports it.
		a.Log.Error("redis is not answering", "err", err)
	}
	return nil
}

// Embedded reports whether Redis is the in-process one.
func (a *App) EmbeddedRedis() bool { return a.mini != nil }

// Ready checks the database and Redis; it returns which one failed.
func (a *App) Ready(ctx context.Context) map[string]error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	res := map[string]error{}
	res["database"] = a.Store.Ping(ctx)
	res["redis"] = a.Redis.Ping(ctx).Err()
	return res
}

// Close releases everything Open opened.
func (a *App) Close() error {
	var errs []error
	if a.Queue != nil {
		errs = append(errs, a.Queue.Close())
	}
	if a.Events != nil {
		a.Events.Close()
	}
	if a.Redis != nil {
		errs = append(errs, a.Redis.Close())
	}
	if a.mini != nil {
		a.mini.Close()
	}
	if a.Store != nil {
		errs = append(errs, a.Store.Close())
	}
	return errors.Join(errs...)
}

// NewLogger builds the process logger from the configuration.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	hopts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, hopts))
	}
	return slog.New(slog.NewTextHandler(w, hopts))
}
