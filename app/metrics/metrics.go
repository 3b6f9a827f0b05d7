// Package metrics holds Parley's Prometheus metrics: one registry per App (never the global
// default, so that tests and several apps in one process do not collide), the counters and
// histograms the web server and the workers update, a collector that reads the asynq queue
// depths at scrape time, and the /metrics handler.
//
// Every method is safe on a nil *Metrics (it does nothing), so packages whose tests build
// their parts by hand need not create one.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Webhook outcomes (the outcome label of parley_webhook_events_total).
const (
	WebhookReceived   = "received"   // an event of a delivery whose signature was good
	WebhookStored     = "stored"     // an event stored for the first time
	WebhookDuplicated = "duplicated" // an event stored before (Meta delivered it again)
	WebhookRejected   = "rejected"   // a delivery refused (see the reason label of parley_webhook_rejections_total)
)

// Reasons a webhook delivery is rejected.
const (
	RejectBadSignature  = "bad_signature"
	RejectMalformed     = "malformed"
	RejectTooLarge      = "too_large"
	RejectDatabaseDown  = "database_down"
	RejectNotConfigured = "not_configured"
)

// Task outcomes (the outcome label of parley_tasks_total).
const (
	TaskSucceeded = "succeeded"
	TaskFailed    = "failed"  // failed for good: no retry left, or an error no retry fixes
	TaskRetried   = "retried" // failed, and asynq runs it again later
)

// Window events (the event label of parley_whatsapp_windows_total).
const (
	WindowOpened = "opened"
	WindowClosed = "closed"
)

// Metrics is one process's metrics and their registry.
type Metrics struct {
	Registry *prometheus.Registry

	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	webhookEvents *prometheus.CounterVec
	webhookReject *prometheus.CounterVec
	tasks         *prometheus.CounterVec
	taskDuration  *prometheus.HistogramVec
	llmCalls      *prometheus.CounterVec
	llmTokens     *prometheus.CounterVec
	llmCost       *prometheus.CounterVec
	windows       *prometheus.CounterVec
}

// New builds the metrics on a registry of their own, with the Go and process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_http_requests_total",
			Help: "HTTP requests answered, by route template (never the raw URL), method and status code.",
		}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "parley_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route template and method.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		webhookEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_webhook_events_total",
			Help: "Webhook events by provider and outcome: received (events of a correctly signed delivery), stored (new), duplicated (delivered before), rejected (deliveries refused).",
		}, []string{"provider", "outcome"}),
		webhookReject: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_webhook_rejections_total",
			Help: "Webhook deliveries refused, by provider and reason (bad_signature, malformed, too_large, database_down, not_configured).",
		}, []string{"provider", "reason"}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_tasks_total",
			Help: "Background tasks run, by type and outcome (succeeded, retried, failed).",
		}, []string{"type", "outcome"}),
		taskDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "parley_task_duration_seconds",
			Help:    "Time one run of a background task took, by type.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 180},
		}, []string{"type"}),
		llmCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_llm_calls_total",
			Help: "LLM calls by purpose (reply, extraction, evaluation, replay), model and outcome (ok: a usage-ledger row was recorded; error: the provider failed).",
		}, []string{"purpose", "model", "outcome"}),
		llmTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_llm_tokens_total",
			Help: "LLM tokens recorded in the usage ledger, by purpose, model and kind (prompt, completion).",
		}, []string{"purpose", "model", "kind"}),
		llmCost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_llm_cost_dollars_total",
			Help: "Cost of the LLM calls recorded in the usage ledger, in US dollars, by purpose and model.",
		}, []string{"purpose", "model"}),
		windows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_whatsapp_windows_total",
			Help: "WhatsApp customer-service windows opened (a customer wrote while none was open) and closed (the deadline passed).",
		}, []string{"event"}),
	}
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.webhookEvents, m.webhookReject, m.tasks, m.taskDuration,
		m.llmCalls, m.llmTokens, m.llmCost, m.windows,
	)
	// Series that exist from the start, so that rate() and alerts see a zero before the first event.
	for _, o := range []string{WebhookReceived, WebhookStored, WebhookDuplicated, WebhookRejected} {
		m.webhookEvents.WithLabelValues("whatsapp", o)
	}
	for _, e := range []string{WindowOpened, WindowClosed} {
		m.windows.WithLabelValues(e)
	}
	return m
}

// HTTPRequest counts one answered request; route is the route template (Echo's c.Path()).
func (m *Metrics) HTTPRequest(route, method string, code int, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// Webhook adds n events of provider with outcome (WebhookReceived, WebhookStored, WebhookDuplicated).
func (m *Metrics) Webhook(provider, outcome string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.webhookEvents.WithLabelValues(provider, outcome).Add(float64(n))
}

// WebhookRejected counts one delivery refused for reason.
func (m *Metrics) WebhookRejected(provider, reason string) {
	if m == nil {
		return
	}
	m.webhookEvents.WithLabelValues(provider, WebhookRejected).Inc()
	m.webhookReject.WithLabelValues(provider, reason).Inc()
}

// Task counts one run of a task of type typ.
func (m *Metrics) Task(typ, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.tasks.WithLabelValues(typ, outcome).Inc()
	m.taskDuration.WithLabelValues(typ).Observe(d.Seconds())
}

func model(s string) string {
	if s == "" {
		return "default"
	}
	return s
}

// LLMCall counts one LLM call recorded in the usage ledger (its row newly written).
func (m *Metrics) LLMCall(purpose, mdl string, promptTokens, completionTokens int, costNanos int64) {
	if m == nil {
		return
	}
	mdl = model(mdl)
	m.llmCalls.WithLabelValues(purpose, mdl, "ok").Inc()
	m.llmTokens.WithLabelValues(purpose, mdl, "prompt").Add(float64(max(promptTokens, 0)))
	m.llmTokens.WithLabelValues(purpose, mdl, "completion").Add(float64(max(completionTokens, 0)))
	m.llmCost.WithLabelValues(purpose, mdl).Add(float64(max(costNanos, 0)) / 1e9)
}

// LLMError counts one LLM call the provider failed.
func (m *Metrics) LLMError(purpose, mdl string) {
	if m == nil {
		return
	}
	m.llmCalls.WithLabelValues(purpose, model(mdl), "error").Inc()
}

// Window counts n WhatsApp windows opened or closed.
func (m *Metrics) Window(event string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.windows.WithLabelValues(event).Add(float64(n))
}

// WatchQueues adds parley_queue_tasks{queue,state}: the asynq queue depths, read from Redis
// through insp at every scrape. queues are always reported (zero before their first task).
func (m *Metrics) WatchQueues(insp *asynq.Inspector, queues []string) {
	if m == nil || insp == nil {
		return
	}
	m.Registry.MustRegister(&queueCollector{insp: insp, queues: queues})
}

var queueDesc = prometheus.NewDesc("parley_queue_tasks",
	"Tasks in each asynq queue by state (pending, active, scheduled, retry, archived, completed, aggregating), read at scrape time.",
	[]string{"queue", "state"}, nil)

type queueCollector struct {
	insp   *asynq.Inspector
	queues []string
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- queueDesc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	names, err := c.insp.Queues()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueDesc, err)
		return
	}
	exists := map[string]bool{}
	for _, q := range names {
		exists[q] = true
	}
	seen := map[string]bool{}
	all := append(append([]string(nil), c.queues...), names...)
	for _, q := range all {
		if seen[q] {
			continue
		}
		seen[q] = true
		info := &asynq.QueueInfo{Queue: q} // a queue that never had a task: all zero
		if exists[q] {
			info, err = c.insp.GetQueueInfo(q)
		}
		if err != nil {
			ch <- prometheus.NewInvalidMetric(queueDesc, err)
			return
		}
		for _, s := range []struct {
			state string
			n     int
		}{
			{"pending", info.Pending}, {"active", info.Active}, {"scheduled", info.Scheduled},
			{"retry", info.Retry}, {"archived", info.Archived}, {"completed", info.Completed},
			{"aggregating", info.Aggregating},
		} {
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(s.n), q, s.state)
		}
	}
}

// Handler serves the registry in the Prometheus text format. A collector that fails (Redis
// down) is reported in the log; the other metrics are still served. compress: gzip the
// answer when the scraper accepts it (false behind a server that compresses already).
func (m *Metrics) Handler(log *slog.Logger, compress bool) http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		ErrorLog:           promLogger{log},
		ErrorHandling:      promhttp.ContinueOnError,
		Registry:           m.Registry, // promhttp_metric_handler_errors_total
		DisableCompression: !compress,
	})
}

type promLogger struct{ l *slog.Logger }

func (p promLogger) Println(v ...any) {
	if p.l != nil {
		p.l.Warn("metrics", "err", slogJoin(v))
	}
}

func slogJoin(v []any) string {
	s := ""
	for i, x := range v {
		if i > 0 {
			s += " "
		}
		if e, ok := x.(error); ok {
			s += e.Error()
			continue
		}
		if str, ok := x.(string); ok {
			s += str
			continue
		}
		s += slog.AnyValue(x).String()
	}
	return s
}

// Serve serves /metrics (no token: the address itself is the protection) on addr until ctx
// ends. ready, when not nil, receives the bound address once listening (tests use :0).
func (m *Metrics) Serve(ctx context.Context, addr string, log *slog.Logger, ready func(net.Addr)) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler(log, true))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(ln.Addr())
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if log != nil {
		log.Info("metrics listening", "addr", ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
