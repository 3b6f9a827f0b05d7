package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/analytics"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/inbound"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/usage"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/workers"
)

// openApp loads the configuration and opens the app. migrate: apply pending migrations;
// otherwise (a production role) refuse to start with pending ones, except on the embedded
// SQLite file, which migrates itself.
func openApp(ctx context.Context, env *Env, migrate bool) (*app.App, error) {
	cfg, err := config.Load(env.Getenv)
	if err != nil {
		return nil, err
	}
	log := app.NewLogger(cfg, env.Stderr)
	// go-redis prints its own lines ("failed to dial after 5 attempts") to stderr in its own
	// format; they go through our logger instead, at debug level: the failures they describe are
	// logged where they matter (asynq's dequeue errors, the webhook's "stored but not enqueued").
	redis.SetLogger(redisLog{log})
	a, err := app.Open(ctx, cfg, app.Options{Logger: log, SkipMigrate: !migrate && !cfg.Embedded()})
	if err != nil {
		return nil, err
	}
	if !migrate && !cfg.Embedded() {
		n, err := a.Store.Pending(ctx)
		if err != nil {
			a.Close()
			return nil, err
		}
		if n > 0 {
			a.Close()
			return nil, fmt.Errorf("%d database migration(s) pending: run `parley migrate up` first (the Procfile's release phase does)", n)
		}
	}
	return a, nil
}

// EnsureAdmin creates the first admin from PARLEY_ADMIN_EMAIL/PASSWORD when no user exists.
func EnsureAdmin(ctx context.Context, a *app.App) error {
	c := a.Config
	if c.AdminEmail == "" {
		n, err := a.Store.CountUsers(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			a.Log.Info("no user exists yet: open the web page to create the first admin", "url", c.BaseURL+"/setup")
		}
		return nil
	}
	hash, err := auth.HashPassword(c.AdminPassword)
	if err != nil {
		return &config.Error{Var: "PARLEY_ADMIN_PASSWORD", Msg: err.Error()}
	}
	_, u, err := a.Store.CreateFirstAdmin(ctx, "My workspace", c.AdminEmail, hash)
	if errors.Is(err, store.ErrSetupDone) {
		return nil
	}
	if err != nil {
		return err
	}
	a.Log.Info("first admin created from PARLEY_ADMIN_EMAIL", "email", u.Email)
	return nil
}

func runAll(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", args[0])}
	}
	a, err := openApp(ctx, env, true)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := EnsureAdmin(ctx, a); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return web.New(a).Serve(gctx) })
	g.Go(func() error { return serveWorker(gctx, a) })
	g.Go(func() error { return serveScheduler(gctx, a) })
	if a.Config.MetricsAddr != "" {
		g.Go(func() error { return serveMetrics(gctx, a) })
	}
	return g.Wait()
}

func runWeb(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", args[0])}
	}
	a, err := openApp(ctx, env, false)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := EnsureAdmin(ctx, a); err != nil {
		return err
	}
	return withMetrics(ctx, a, web.New(a).Serve)
}

func runWorker(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", args[0])}
	}
	a, err := openApp(ctx, env, false)
	if err != nil {
		return err
	}
	defer a.Close()
	return withMetrics(ctx, a, func(ctx context.Context) error { return serveWorker(ctx, a) })
}

func runScheduler(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", args[0])}
	}
	a, err := openApp(ctx, env, false)
	if err != nil {
		return err
	}
	defer a.Close()
	return withMetrics(ctx, a, func(ctx context.Context) error { return serveScheduler(ctx, a) })
}

// withMetrics runs serve, and beside it the metrics listener when PARLEY_METRICS_ADDR is set;
// either one failing stops both.
func withMetrics(ctx context.Context, a *app.App, serve func(context.Context) error) error {
	if a.Config.MetricsAddr == "" {
		return serve(ctx)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serve(gctx) })
	g.Go(func() error { return serveMetrics(gctx, a) })
	return g.Wait()
}

// serveMetrics serves /metrics without a token on PARLEY_METRICS_ADDR until ctx ends.
func serveMetrics(ctx context.Context, a *app.App) error {
	if err := a.Metrics.Serve(ctx, a.Config.MetricsAddr, a.Log, nil); err != nil {
		return fmt.Errorf("metrics listener on PARLEY_METRICS_ADDR %s: %w", a.Config.MetricsAddr, err)
	}
	return nil
}

// Handlers builds every task handler on an app, from the services its container built.
func Handlers(a *app.App) workers.Handlers {
	wa := &workers.WhatsApp{Tasks: a.Tasks, Log: a.Log, Metrics: a.Metrics, Service: a.WhatsApp}
	return workers.Handlers{
		WhatsApp: wa,
		// An event left unenqueued (Redis down) is re-enqueued by the next sweep once it is one
		// sweep period old (30 s at most): recovery takes at most two sweep periods.
		Inbound:     &workers.Inbound{Service: &inbound.Service{Store: a.Store, Log: a.Log, Retention: a.Config.InboundRetention, Processors: map[string]inbound.Processor{whatsapp.Provider: wa.Process}}, Tasks: a.Tasks, Log: a.Log, SweepAge: min(a.Config.SweepInterval, 30*time.Second)},
		Maintenance: &workers.Maintenance{Conversations: a.Conversations, Jobs: conversation.BulkJobs{Redis: a.Redis}, Log: a.Log},
		Extract:     &workers.Extract{Tasks: a.Tasks, Log: a.Log, Extractor: a.Extractor},
		Evaluation:  &workers.Evaluation{Evaluations: a.Evaluations, Tasks: a.Tasks, Log: a.Log},
		Tally:       &workers.Tally{Tally: &usage.Tally{Store: a.Store, Log: a.Log}},
		Quality:     &workers.Quality{QualityTally: &analytics.QualityTally{Store: a.Store, Log: a.Log}}, // issue 14: analytics
		Audit:       &workers.Audit{Service: a.Audit, Log: a.Log},
		Ends: &workers.Ends{Conversations: a.Conversations, Log: a.Log, Idle: model.IdleTimes{
			Widget: a.Config.WidgetIdle, WhatsApp: a.Config.WhatsAppIdle, Test: a.Config.TestChatIdle}},
		Reeval: &workers.Reeval{Service: a.Reeval, Log: a.Log},
		// Replies that are due and not done once past the WhatsApp debounce and a sweep period.
		Replies: &workers.Replies{Store: a.Store, Chat: a.Chat, Tasks: a.Tasks, Log: a.Log, Age: replySweepAge(a)},
		Mail:    &workers.Mail{Mail: a.Mail, Store: a.Store, Tasks: a.Tasks, Log: a.Log},
		Tasks:   a.Tasks,
		Metrics: a.Metrics,
		Log:     a.Log,
		// issue 15: replays
		Replay: &workers.Replay{Engine: a.ReplayEngine, Replays: a.Replays, Tasks: a.Tasks, Log: a.Log},
		// issue 15: test set runs
		TestRuns: &workers.TestRuns{Runs: a.TestRuns, Tasks: a.Tasks, Log: a.Log},
	}
}

// replySweepAge is how old a pending reply must be before the sweep enqueues it again: the
// WhatsApp debounce (2 s) plus one sweep period, at most 30 s.
func replySweepAge(a *app.App) time.Duration {
	return 2*time.Second + min(a.Config.SweepInterval, 30*time.Second)
}

// serveWorker runs the asynq server until ctx ends, then shuts down, letting running jobs
// finish (up to asynq's shutdown timeout; unfinished ones are re-queued by asynq).
func serveWorker(ctx context.Context, a *app.App) error {
	srv := asynq.NewServerFromRedisClient(a.Redis, asynq.Config{
		Concurrency:     a.Config.WorkerConcurrency,
		Queues:          workers.QueuePriorities,
		Logger:          asynqLogger{a.Log.With("role", "worker")},
		ShutdownTimeout: 20 * time.Second,
		// A task of another installation sharing the Redis goes back at once for its workers.
		RetryDelayFunc: workers.RetryDelay,
		// Failures are logged (with task, task_id and request_id) and counted by the mux's
		// middleware, workers.Observe.
	})
	if err := srv.Start(workers.NewMux(Handlers(a))); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	a.Log.Info("worker started", "queues", workers.QueuePriorities, "concurrency", a.Config.WorkerConcurrency)
	<-ctx.Done()
	srv.Shutdown()
	return nil
}

func serveScheduler(ctx context.Context, a *app.App) error {
	sch := asynq.NewSchedulerFromRedisClient(a.Redis, &asynq.SchedulerOpts{
		Location: time.UTC,
		Logger:   asynqLogger{a.Log.With("role", "scheduler")},
	})
	for _, e := range (workers.Schedule{SweepInterval: a.Config.SweepInterval, Tasks: a.Tasks}).Entries() {
		if _, err := sch.Register(e.Spec, e.Task); err != nil {
			return fmt.Errorf("schedule %s: %w", e.Task.Type(), err)
		}
	}
	if err := sch.Start(); err != nil {
		return fmt.Errorf("start scheduler: %w", err)
	}
	a.Log.Info("scheduler started")
	<-ctx.Done()
	sch.Shutdown()
	return nil
}

// asynqLogger adapts slog to asynq's logger interface.
type asynqLogger struct{ l *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.l.Debug(fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.l.Info(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.l.Warn(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) {
	msg := fmt.Sprint(args...)
	if strings.Contains(msg, "redis connection is shared") { // we own the client and close it ourselves
		l.l.Debug(msg)
		return
	}
	l.l.Error(msg)
}
func (l asynqLogger) Fatal(args ...any) { l.l.Error(fmt.Sprint(args...)); panic(fmt.Sprint(args...)) }

// redisLog routes go-redis' internal log lines to slog.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}
