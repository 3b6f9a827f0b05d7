//go:build fault

package fault

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
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

// newFakeLLM is testkit's fake OpenAI-compatible server answering every chat completion,
// streamed or not, with a usage object after delay (so that a kill lands while calls are in
// flight); a request with a JSON schema (variable extraction) gets a JSON object with a value
// for every property. Its Chat and Structured counters tell replies from extractions, in
// flight and answered.
func newFakeLLM(t *testing.T, delay time.Duration) *testkit.FakeLLM {
	l := testkit.NewFakeLLM(t)
	l.Reply = "Thanks for your message! How else can I help?"
	l.Value = "Fault Tester"
	l.Delay = delay
	return l
}
