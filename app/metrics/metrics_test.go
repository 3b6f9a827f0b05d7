package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/metrics"
)

// A nil *Metrics counts nothing and does not panic (parts built by hand in tests have none).
func TestNilMetricsIsANoOp(t *testing.T) {
	var m *metrics.Metrics
	m.HTTPRequest("/x", "GET", 200, time.Millisecond)
	m.Webhook("whatsapp", metrics.WebhookStored, 1)
	m.WebhookRejected("whatsapp", metrics.RejectBadSignature)
	m.Task("t", metrics.TaskSucceeded, time.Millisecond)
	m.LLMCall("reply", "m", 1, 1, 1)
	m.LLMError("reply", "")
	m.Window(metrics.WindowOpened, 1)
	m.WatchQueues(nil, nil)
}

// Two registries do not share counters.
func TestRegistriesAreSeparate(t *testing.T) {
	a, b := metrics.New(), metrics.New()
	a.LLMCall("reply", "", 10, 5, 1500)
	scrape := func(m *metrics.Metrics) string {
		rec := httptest.NewRecorder()
		m.Handler(nil, false).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(rec.Body)
		return string(b)
	}
	sa, sb := scrape(a), scrape(b)
	for _, want := range []string{
		`parley_llm_calls_total{model="default",outcome="ok",purpose="reply"} 1`,
		`parley_llm_tokens_total{kind="prompt",model="default",purpose="reply"} 10`,
		`parley_llm_cost_dollars_total{model="default",purpose="reply"} 1.5e-06`,
	} {
		if !strings.Contains(sa, want) {
			t.Errorf("a lacks %q", want)
		}
		if strings.Contains(sb, want) {
			t.Errorf("b has a's %q", want)
		}
	}
}

func BenchmarkHTTPRequest(b *testing.B) {
	m := metrics.New()
	for b.Loop() {
		m.HTTPRequest("/conversations/:id", "GET", 200, 3*time.Millisecond)
	}
}
