//go:build fault

package fault

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/whatsapp"
)

// ---- Meta's Graph API ----

// graphSend is one message Parley sent through the fake Graph API (and Meta took).
type graphSend struct {
	To, Key, Text, WAMID string
}

// fakeGraph is testkit's fake Graph API, taking sends only from the deployment's number with
// its access token, that like Meta reports each accepted message back with a signed "sent"
// status webhook carrying the biz_opaque_callback_data (retried until Parley answers 200).
type fakeGraph struct {
	*testkit.FakeGraph
	webhookURL string
	stop       chan struct{}
}

func newFakeGraph(t *testing.T) *fakeGraph {
	g := &fakeGraph{FakeGraph: testkit.NewFakeGraph(t), stop: make(chan struct{})}
	g.Token = accessToken
	g.WAMIDPrefix = "wamid.FAULT" // the checks find Parley's sends by it
	g.Numbers = map[string]testkit.FakeNumber{phoneNumberID: {DisplayPhoneNumber: "15550783881", VerifiedName: "Fault Shop"}}
	g.SendersKnown = true
	g.OnSend = g.deliverStatus
	t.Cleanup(func() { close(g.stop) }) // before the server closes (cleanups run last first)
	return g
}

// deliverStatus posts Meta's "sent" status for wamid, retrying like Meta until a 200.
func (g *fakeGraph) deliverStatus(to, wamid, callback string) {
	if g.webhookURL == "" {
		return
	}
	st := map[string]any{"id": wamid, "status": "sent", "timestamp": strconv.FormatInt(time.Now().Unix(), 10), "recipient_id": to}
	if callback != "" {
		st["biz_opaque_callback_data"] = callback
	}
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{"id": "102290129340398", "changes": []any{map[string]any{"field": "messages", "value": map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]any{"display_phone_number": "15550783881", "phone_number_id": phoneNumberID},
			"statuses":          []any{st},
		}}}}},
	})
	sig := whatsapp.Sign(appSecret, b)
	hc := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < 120; i++ {
		req, _ := http.NewRequest(http.MethodPost, g.webhookURL, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(whatsapp.SignatureHeader, sig)
		if res, err := hc.Do(req); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-g.stop:
			return
		case <-time.After(time.Second):
		}
	}
}

// all is every send Meta took, in order.
func (g *fakeGraph) all() []graphSend {
	var out []graphSend
	for _, r := range g.Accepted() {
		s := graphSend{WAMID: r.WAMID}
		s.To, _ = r.Body["to"].(string)
		s.Key, _ = r.Body["biz_opaque_callback_data"].(string)
		if text, ok := r.Body["text"].(map[string]any); ok {
			s.Text, _ = text["body"].(string)
		}
		out = append(out, s)
	}
	return out
}

// byKey counts sends per callback key (one key per reply Parley sends).
func (g *fakeGraph) byKey() map[string]int {
	m := map[string]int{}
	for _, s := range g.all() {
		m[s.Key]++
	}
	return m
}

// byRecipient counts sends per customer.
func (g *fakeGraph) byRecipient() map[string]int {
	m := map[string]int{}
	for _, s := range g.all() {
		m[s.To]++
	}
	return m
}

// ---- an OpenAI-compatible LLM ----

// fakeLLM is testkit's fake OpenAI-compatible server answering every chat completion,
// streamed or not, with a usage object after Delay (so that a kill lands while calls are in
// flight); a request with a JSON schema (variable extraction) gets a JSON object with a value
// for every property. Its Chat and Structured counters tell replies from extractions, in
// flight and answered.
//
// Every reply it writes is its own: "... Reference R<n>X ..." names the request (the n-th
// chat completion), and the fake keeps, for each n, the last customer message that request
// answered. The checks read a reply Meta received, or a reply stored for a widget visitor,
// back to the call that wrote it (replyRef) and so to the customer message it answers: a
// reply that no call wrote (a fallback, a copy) or that answers another customer is caught.
type fakeLLM struct {
	*testkit.FakeLLM
	mu    sync.Mutex
	calls map[int]llmCall
	// replyDelay, when set (nanoseconds), replaces Delay for replies (not extractions): a
	// scenario holds replies at the LLM with it.
	replyDelay atomic.Int64
}

// llmCall is one reply the fake LLM wrote.
type llmCall struct {
	N        int
	LastUser string // the last user message of the request
	Stream   bool
	At       time.Time
}

const llmReply = "Thanks for your message! Reference R%dX. How else can I help?"

var replyRefRE = regexp.MustCompile(`Reference R(\d+)X`)

func newFakeLLM(t *testing.T, delay time.Duration) *fakeLLM {
	l := &fakeLLM{FakeLLM: testkit.NewFakeLLM(t), calls: map[int]llmCall{}}
	l.Value = "Fault Tester"
	l.Delay = delay
	l.Answer = func(n int, r testkit.LLMRequest) testkit.LLMAnswer {
		if r.Schema != nil { // an extraction: every property gets Value
			vals := map[string]string{}
			for k := range r.Schema {
				vals[k] = l.Value
			}
			b, _ := json.Marshal(vals)
			return testkit.LLMAnswer{Content: string(b), Delay: l.Delay}
		}
		l.mu.Lock()
		l.calls[n] = llmCall{N: n, LastUser: lastUserText(r.Body), Stream: r.Stream, At: time.Now()}
		l.mu.Unlock()
		delay := l.Delay
		if rd := l.replyDelay.Load(); rd > 0 {
			delay = time.Duration(rd)
		}
		return testkit.LLMAnswer{Content: fmt.Sprintf(llmReply, n), Delay: delay}
	}
	return l
}

// lastUserText is the content of the last user message of a chat completion request.
func lastUserText(body map[string]any) string {
	msgs, _ := body["messages"].([]any)
	for i := len(msgs) - 1; i >= 0; i-- {
		m, _ := msgs[i].(map[string]any)
		if m["role"] != "user" {
			continue
		}
		switch c := m["content"].(type) {
		case string:
			return c
		case []any: // content parts
			var b strings.Builder
			for _, p := range c {
				if pm, ok := p.(map[string]any); ok {
					if s, ok := pm["text"].(string); ok {
						b.WriteString(s)
					}
				}
			}
			return b.String()
		}
		return ""
	}
	return ""
}

// replyRef finds the call that wrote a reply text: ok is false when no call of this fake did.
func (l *fakeLLM) replyRef(text string) (llmCall, bool) {
	m := replyRefRE.FindStringSubmatch(text)
	if m == nil {
		return llmCall{}, false
	}
	n, _ := strconv.Atoi(m[1])
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.calls[n]
	return c, ok
}

// replyCalls is how many reply calls the fake was asked for.
func (l *fakeLLM) replyCalls() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}
