package testkit

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/parleyhq/parley/app/store"
)

// GraphRequest is one request the fake Graph API saw.
type GraphRequest struct {
	Method, Path, RawQuery string
	Auth                   string         // the Authorization header
	Body                   map[string]any // the decoded JSON body (sends)
	// Accepted is a send Meta took (answered 200, or took and then hung up); WAMID is the
	// message id it was given.
	Accepted bool
	WAMID    string
}

// GraphError is Meta's error object, answered with Status:
// {"error":{"message","type","code","error_subcode","fbtrace_id"}}.
type GraphError struct {
	Status    int
	Message   string
	Type      string
	Code      int
	Subcode   int
	Details   string // error_data.details
	FBTraceID string
}

// JSON is the error's body as Meta writes it.
func (e GraphError) JSON() string {
	m := map[string]any{"message": e.Message, "type": e.Type, "code": e.Code}
	if e.Subcode != 0 {
		m["error_subcode"] = e.Subcode
	}
	if e.Details != "" {
		m["error_data"] = map[string]any{"messaging_product": "whatsapp", "details": e.Details}
	}
	if e.FBTraceID == "" {
		e.FBTraceID = "AFakeTrace"
	}
	m["fbtrace_id"] = e.FBTraceID
	b, _ := json.Marshal(map[string]any{"error": m})
	return string(b)
}

// Meta's errors the product meets.
var (
	GraphInvalidToken  = GraphError{Status: 401, Message: "Invalid OAuth access token.", Type: "OAuthException", Code: 190}
	GraphRateLimited   = GraphError{Status: 429, Message: "(#80007) Rate limit issues", Type: "OAuthException", Code: 80007}
	GraphUnknown       = GraphError{Status: 500, Message: "An unknown error has occurred.", Type: "OAuthException", Code: 1}
	GraphUndeliverable = GraphError{Status: 400, Message: "(#131026) Message undeliverable", Type: "OAuthException", Code: 131026}
	GraphWindowClosed  = GraphError{Status: 400, Message: "(#131047) Re-engagement message", Type: "OAuthException", Code: 131047,
		Details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}
	GraphNoObject = GraphError{Status: 400, Message: "Unsupported get request. Object with ID 'x' does not exist", Type: "GraphMethodException", Code: 100, Subcode: 33}
)

// GraphAnswer is how the fake answers one request; the zero GraphAnswer is Meta's success
// (so a plan can put a success between failures).
type GraphAnswer struct {
	Error *GraphError // Meta's error object with its status
	// Status and Body: a raw answer (a proxy's page, Meta's exact bytes from testdata).
	Status int
	Body   string
	// Hangup closes the connection without an answer; with Accept the send counts as taken
	// (Meta sent the message, its answer was lost).
	Hangup, Accept bool
}

// FakeTemplate is one template of a WhatsApp Business Account (Meta's message_templates).
type FakeTemplate struct {
	Name, Language, Category, Status, Body string
}

// FakeGraph is Meta's Graph API on an httptest server, in Meta's wire format, under any
// version prefix (/v21.0/...):
//
//	POST /{phone_number_id}/messages      -> {"messaging_product","contacts","messages":[{"id":"wamid..."}]}
//	GET  /{phone_number_id}?fields=...    -> {"display_phone_number","verified_name","id"}
//	GET  /{waba_id}/message_templates     -> {"data":[...],"paging":{"next"}} (PageSize a page)
//
// Any other path gets Meta's error 2500. It records every request (safe for concurrent
// use); Then queues answers other than success, taken one per request in order. Set the
// exported fields before the first request.
type FakeGraph struct {
	*httptest.Server
	// Token, when set, is the only access token accepted: any other gets GraphInvalidToken.
	Token string
	// Numbers are the phone numbers GET /{id} knows (any other gets GraphNoObject); a send
	// from any number is taken unless SendersKnown.
	Numbers map[string]FakeNumber
	// SendersKnown: only the Numbers may send; a send from another gets GraphNoObject, as
	// from Meta.
	SendersKnown bool
	// Templates are the templates of each WhatsApp Business Account id; PageSize (default
	// 100) is how many one page lists.
	Templates map[string][]FakeTemplate
	PageSize  int
	// WAMIDPrefix starts the message ids Meta gives ("wamid.FAKE"), followed by 8 digits.
	WAMIDPrefix string
	// OnSend, when set, is called (in its own goroutine) for each send Meta took, e.g. to post
	// the message's status webhook back.
	OnSend func(to, wamid, callbackData string)

	mu   sync.Mutex
	reqs []GraphRequest
	plan []GraphAnswer
	n    int
}

// FakeNumber is what Meta says of a phone number.
type FakeNumber struct {
	DisplayPhoneNumber, VerifiedName string
}

// NewFakeGraph starts a fake Graph API, closed when the test ends.
func NewFakeGraph(t testing.TB) *FakeGraph {
	g := &FakeGraph{}
	g.Server = httptest.NewServer(http.HandlerFunc(g.handle))
	t.Cleanup(g.Close)
	return g
}

// Verified marks a test assistant's WhatsApp connection as confirmed by Meta (as the
// dashboard and the API store it after Meta's answer), so that webhooks of its number reach
// it; it returns a.
func Verified(a *store.Assistant) *store.Assistant {
	at := store.Now()
	a.WhatsAppDisplayPhoneNumber, a.WhatsAppVerifiedName, a.WhatsAppVerifiedAt = "+1 555-0100", "Test Shop", &at
	return a
}

// Know makes the fake know a phone number (GET /{id} answers it; safe while requests run).
// A display number "" becomes "+1 555-" followed by the id's last digits.
func (g *FakeGraph) Know(phoneNumberID, displayPhoneNumber, verifiedName string) {
	if displayPhoneNumber == "" {
		tail := phoneNumberID
		if len(tail) > 7 {
			tail = tail[len(tail)-7:]
		}
		displayPhoneNumber = "+1 555-" + tail
	}
	g.mu.Lock()
	if g.Numbers == nil {
		g.Numbers = map[string]FakeNumber{}
	}
	g.Numbers[phoneNumberID] = FakeNumber{DisplayPhoneNumber: displayPhoneNumber, VerifiedName: verifiedName}
	g.mu.Unlock()
}

// Lookups returns the phone number GETs seen so far (GET /{phone_number_id}), in order.
func (g *FakeGraph) Lookups() []GraphRequest {
	var out []GraphRequest
	for _, r := range g.Requests() {
		if r.Method == http.MethodGet && !strings.HasSuffix(r.Path, "/message_templates") {
			out = append(out, r)
		}
	}
	return out
}

// Then queues answers for the next requests, in order (then success again).
func (g *FakeGraph) Then(answers ...GraphAnswer) {
	g.mu.Lock()
	g.plan = append(g.plan, answers...)
	g.mu.Unlock()
}

// Fail queues Meta's error e for the next n requests.
func (g *FakeGraph) Fail(n int, e GraphError) {
	for range n {
		g.Then(GraphAnswer{Error: &e})
	}
}

// Requests returns every request seen so far, in order.
func (g *FakeGraph) Requests() []GraphRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]GraphRequest(nil), g.reqs...)
}

// Sends returns the message sends seen so far (accepted or not), in order.
func (g *FakeGraph) Sends() []GraphRequest {
	var out []GraphRequest
	for _, r := range g.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/messages") {
			out = append(out, r)
		}
	}
	return out
}

// Accepted returns the sends Meta took.
func (g *FakeGraph) Accepted() []GraphRequest {
	var out []GraphRequest
	for _, r := range g.Sends() {
		if r.Accepted {
			out = append(out, r)
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (g *FakeGraph) handle(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	req := GraphRequest{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Auth: r.Header.Get("Authorization")}
	_ = json.Unmarshal(raw, &req.Body)
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) > 0 && strings.HasPrefix(parts[0], "v") && strings.Contains(parts[0], ".") {
		parts = parts[1:] // the version
	}
	send := r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "messages"
	g.mu.Lock()
	unknownSender := false
	if send && g.SendersKnown {
		_, known := g.Numbers[parts[0]]
		unknownSender = !known
	}
	var ans *GraphAnswer
	if len(g.plan) > 0 {
		ans, g.plan = &g.plan[0], g.plan[1:]
		if *ans == (GraphAnswer{}) {
			ans = nil // success
		}
	}
	if send && (ans == nil || ans.Hangup && ans.Accept) && g.tokenOK(req.Auth) && !unknownSender {
		g.n++
		prefix := g.WAMIDPrefix
		if prefix == "" {
			prefix = "wamid.FAKE"
		}
		req.Accepted, req.WAMID = true, fmt.Sprintf("%s%08d", prefix, g.n)
	}
	g.reqs = append(g.reqs, req)
	g.mu.Unlock()

	switch {
	case ans != nil && ans.Hangup:
		if req.Accepted {
			g.sent(req)
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	case ans != nil && ans.Error != nil:
		writeJSON(w, ans.Error.Status, ans.Error.JSON())
		return
	case ans != nil:
		writeJSON(w, ans.Status, ans.Body)
		return
	case !g.tokenOK(req.Auth):
		writeJSON(w, GraphInvalidToken.Status, GraphInvalidToken.JSON())
		return
	case unknownSender:
		writeJSON(w, GraphNoObject.Status, GraphNoObject.JSON())
		return
	}
	switch {
	case send:
		to, _ := req.Body["to"].(string)
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"messaging_product":"whatsapp","contacts":[{"input":%q,"wa_id":%q}],"messages":[{"id":%q}]}`, to, to, req.WAMID))
		g.sent(req)
	case r.Method == http.MethodGet && len(parts) == 1:
		g.mu.Lock()
		n, ok := g.Numbers[parts[0]]
		g.mu.Unlock()
		if !ok {
			writeJSON(w, GraphNoObject.Status, GraphNoObject.JSON())
			return
		}
		b, _ := json.Marshal(map[string]string{"display_phone_number": n.DisplayPhoneNumber, "verified_name": n.VerifiedName, "id": parts[0]})
		writeJSON(w, http.StatusOK, string(b))
	case r.Method == http.MethodGet && len(parts) == 2 && parts[1] == "message_templates":
		g.templates(w, r, parts[0])
	default:
		e := GraphError{Status: 400, Message: "Unknown path components: " + r.URL.Path, Type: "OAuthException", Code: 2500}
		writeJSON(w, e.Status, e.JSON())
	}
}

func (g *FakeGraph) tokenOK(auth string) bool { return g.Token == "" || auth == "Bearer "+g.Token }

func (g *FakeGraph) sent(req GraphRequest) {
	if g.OnSend == nil {
		return
	}
	to, _ := req.Body["to"].(string)
	cb, _ := req.Body["biz_opaque_callback_data"].(string)
	go g.OnSend(to, req.WAMID, cb)
}

func (g *FakeGraph) templates(w http.ResponseWriter, r *http.Request, waba string) {
	ts, ok := g.Templates[waba]
	if !ok {
		writeJSON(w, GraphNoObject.Status, GraphNoObject.JSON())
		return
	}
	size := g.PageSize
	if size <= 0 {
		size = 100
	}
	from, _ := strconv.Atoi(r.URL.Query().Get("after"))
	to := min(from+size, len(ts))
	from = min(from, to)
	data := make([]map[string]any, 0, to-from)
	for _, t := range ts[from:to] {
		data = append(data, map[string]any{"name": t.Name, "language": t.Language, "category": t.Category, "status": t.Status, "id": "tpl-" + t.Name,
			"components": []map[string]any{{"type": "BODY", "text": t.Body}}})
	}
	body := map[string]any{"data": data}
	if to < len(ts) {
		q := r.URL.Query()
		q.Set("after", strconv.Itoa(to))
		body["paging"] = map[string]any{"cursors": map[string]string{"after": strconv.Itoa(to)}, "next": g.URL + r.URL.Path + "?" + q.Encode()}
	}
	b, _ := json.Marshal(body)
	writeJSON(w, http.StatusOK, string(b))
}
