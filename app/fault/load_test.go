//go:build fault

package fault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/bench"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/whatsapp"
)

// ---- webhook load with per-request outcomes ----

// delivery is one webhook (one customer message) and what became of each attempt.
type delivery struct {
	ID, From, Text string
	Body           []byte
	Sig            string

	Status     int    // last attempt's HTTP status (0: no answer)
	Err        string // last attempt's transport error kind
	Start, End time.Time
	Attempts   int
	Acked      bool // some attempt was answered 200
}

type hookLoad struct {
	mu  sync.Mutex
	all []*delivery
}

func (l *hookLoad) list() []*delivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*delivery(nil), l.all...)
}

func (l *hookLoad) snapshot() []delivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]delivery, len(l.all))
	for i, d := range l.all {
		out[i] = *d
	}
	return out
}

func hookClient(keepAlive bool) *http.Client {
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 64}}
}

// errKind names a transport error: "refused" when the connection was never opened (so the
// request surely did not reach the server), else "reset", "eof", "timeout" or "network".
func errKind(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return "refused"
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	}
	return "network: " + err.Error()
}

// post delivers one webhook once and records the outcome.
func (d *deployment) post(hc *http.Client, dv *delivery, lock *sync.Mutex) {
	req, _ := http.NewRequest(http.MethodPost, d.webURL+"/webhooks/whatsapp", bytes.NewReader(dv.Body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, dv.Sig)
	t0 := time.Now()
	res, err := hc.Do(req)
	status, kind := 0, ""
	if err == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		status = res.StatusCode
	} else {
		kind = errKind(err)
	}
	lock.Lock()
	dv.Attempts++
	dv.Start, dv.End, dv.Status, dv.Err = t0, time.Now(), status, kind
	if status == http.StatusOK {
		dv.Acked = true
	}
	lock.Unlock()
}

// newDelivery builds Meta's webhook of one text message from a customer of its own.
func newDelivery(prefix string, i int, customerBase int64, at time.Time) *delivery {
	id := fmt.Sprintf("wamid.FAULT.%s.%d", prefix, i)
	from := strconv.FormatInt(customerBase+int64(i), 10)
	text := "fault message " + prefix + " " + strconv.Itoa(i)
	body := bench.WhatsAppTextWebhook(phoneNumberID, id, from, text, at)
	return &delivery{ID: id, From: from, Text: text, Body: body, Sig: whatsapp.Sign(appSecret, body)}
}

// webhookLoad sends rate webhooks a second for dur (open loop), each a new customer's message,
// and returns once every request has its answer.
func (d *deployment) webhookLoad(ctx context.Context, l *hookLoad, prefix string, customerBase int64, rate float64, dur time.Duration, hc *http.Client) {
	n := int(rate * dur.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		if w := time.Until(start.Add(time.Duration(i) * interval)); w > 0 {
			select {
			case <-ctx.Done():
				wg.Wait()
				return
			case <-time.After(w):
			}
		}
		dv := newDelivery(prefix, i, customerBase, time.Now())
		l.mu.Lock()
		l.all = append(l.all, dv)
		l.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.post(hc, dv, &l.mu)
		}()
	}
	wg.Wait()
}

// replay delivers every webhook not yet acknowledged again, like Meta's retries, until each is
// answered 200 or max passes.
func (d *deployment) replay(l *hookLoad, max time.Duration) (replayed int) {
	hc := hookClient(true)
	end := time.Now().Add(max)
	for time.Now().Before(end) {
		var todo []*delivery
		for _, dv := range l.list() {
			l.mu.Lock()
			if !dv.Acked {
				todo = append(todo, dv)
			}
			l.mu.Unlock()
		}
		if len(todo) == 0 {
			return replayed
		}
		for _, dv := range todo {
			replayed++
			d.post(hc, dv, &l.mu)
		}
		time.Sleep(500 * time.Millisecond)
	}
	return replayed
}

// ---- widget load ----

type widgetMsg struct {
	Visitor, Text string
	Status        int
	Err           string
	Start, End    time.Time
	Done          bool // the reply was complete (JSON reply, or the stream's "done" event)
	// Acked: the server said it has the message (a 200 JSON answer, or the stream's "message"
	// event, sent once the message is stored and before the reply is written).
	Acked        bool
	Conversation string
}

type widgetLoad struct {
	mu   sync.Mutex
	msgs []*widgetMsg
	// sessions: attempts and failures of POST /sessions
	sessions, sessionErrors int
	// renew: after a failed message the visitor opens a new conversation (so that the message
	// cut off stays the last of its conversation, and only the product can answer it).
	renew bool
}

func (w *widgetLoad) snapshot() []widgetMsg {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]widgetMsg, len(w.msgs))
	for i, m := range w.msgs {
		out[i] = *m
	}
	return out
}

// widgetVisitor opens a session through the widget JSON API and sends a message every
// `every` until ctx ends; with stream it asks for the reply as an event stream.
func (d *deployment) widgetVisitor(ctx context.Context, w *widgetLoad, visitor string, every time.Duration, stream bool, hc *http.Client) {
	var conv, token string
	for i := 0; ctx.Err() == nil; i++ {
		if token == "" {
			w.mu.Lock()
			w.sessions++
			w.mu.Unlock()
			b, _ := json.Marshal(map[string]any{"assistant": d.publicKey, "visitor_id": visitor})
			req, _ := http.NewRequest(http.MethodPost, d.webURL+"/api/widget/v1/sessions", bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", widgetOrigin)
			res, err := hc.Do(req)
			if err == nil {
				var s struct {
					ConversationID string `json:"conversation_id"`
					Token          string `json:"token"`
				}
				raw, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusCreated && json.Unmarshal(raw, &s) == nil {
					conv, token = s.ConversationID, s.Token
				}
			}
			if token == "" {
				w.mu.Lock()
				w.sessionErrors++
				w.mu.Unlock()
				sleepCtx(ctx, every)
				continue
			}
		}
		m := &widgetMsg{Visitor: visitor, Text: fmt.Sprintf("widget %s says hello %d", visitor, i), Conversation: conv}
		w.mu.Lock()
		w.msgs = append(w.msgs, m)
		w.mu.Unlock()
		b, _ := json.Marshal(map[string]string{"text": m.Text})
		req, _ := http.NewRequest(http.MethodPost, d.webURL+"/api/widget/v1/sessions/"+conv+"/messages", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", widgetOrigin)
		req.Header.Set("Authorization", "Bearer "+token)
		if stream {
			req.Header.Set("Accept", "text/event-stream")
		}
		t0 := time.Now()
		res, err := hc.Do(req)
		status, kind, done, ack := 0, "", false, false
		if err == nil {
			raw, rerr := io.ReadAll(res.Body)
			res.Body.Close()
			status = res.StatusCode
			if rerr != nil {
				kind = errKind(rerr)
			}
			if stream {
				done = status == 200 && bytes.Contains(raw, []byte("event: done")) && !bytes.Contains(raw, []byte("event: error"))
				ack = status == 200 && bytes.Contains(raw, []byte("event: message"))
			} else {
				ack = status == 200 && rerr == nil
				var out struct {
					Reply *struct {
						Content string `json:"content"`
					} `json:"reply"`
				}
				done = status == 200 && json.Unmarshal(raw, &out) == nil && out.Reply != nil && out.Reply.Content != ""
			}
		} else {
			kind = errKind(err)
		}
		w.mu.Lock()
		m.Start, m.End, m.Status, m.Err, m.Done, m.Acked = t0, time.Now(), status, kind, done, ack
		if !done && w.renew {
			token = ""
		}
		w.mu.Unlock()
		sleepCtx(ctx, every)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// ---- database checks ----

// countByProviderID counts rows of table per value of col among ids.
func (d *deployment) countBy(ctx context.Context, table, col string, ids []string, extra string) (map[string]int, error) {
	out := map[string]int{}
	for i := 0; i < len(ids); i += 500 {
		j := min(i+500, len(ids))
		var rows []struct {
			ID string `bun:"id"`
			N  int    `bun:"n"`
		}
		q := d.st.DB.NewSelect().TableExpr(table).ColumnExpr(col+" AS id").ColumnExpr("count(*) AS n").
			Where(col+" IN (?)", bun.List(ids[i:j])).GroupExpr(col)
		if extra != "" {
			q = q.Where(extra)
		}
		if err := q.Scan(ctx, &rows); err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.ID] += r.N
		}
	}
	return out, nil
}

// idState is what the database holds of a set of WhatsApp message ids.
type idState struct {
	IDs                         int
	Stored, StoredDup           int // inbound_events
	Processed                   int // inbound_events with processed_at
	Messages, MessageDup        int // messages with that provider id
	MissingEvents, MissingMsgs  []string
	Unprocessed                 int
	StoredDupIDs, MessageDupIDs []string
}

func (d *deployment) idState(ctx context.Context, ids []string) (*idState, error) {
	s := &idState{IDs: len(ids)}
	ev, err := d.countBy(ctx, "inbound_events", "provider_id", ids, "provider = 'whatsapp'")
	if err != nil {
		return nil, err
	}
	pr, err := d.countBy(ctx, "inbound_events", "provider_id", ids, "provider = 'whatsapp' AND processed_at IS NOT NULL")
	if err != nil {
		return nil, err
	}
	ms, err := d.countBy(ctx, "messages", "provider_message_id", ids, "")
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		switch n := ev[id]; {
		case n == 0:
			s.MissingEvents = append(s.MissingEvents, id)
		case n > 1:
			s.StoredDup++
			s.StoredDupIDs = append(s.StoredDupIDs, id)
			s.Stored++
		default:
			s.Stored++
		}
		if pr[id] > 0 {
			s.Processed++
		} else if ev[id] > 0 {
			s.Unprocessed++
		}
		switch n := ms[id]; {
		case n == 0:
			s.MissingMsgs = append(s.MissingMsgs, id)
		case n > 1:
			s.MessageDup++
			s.MessageDupIDs = append(s.MessageDupIDs, id)
			s.Messages++
		default:
			s.Messages++
		}
	}
	return s, nil
}

// convRow is one WhatsApp conversation's message counts.
type convRow struct {
	ID         int64  `bun:"id"`
	Customer   string `bun:"customer"`
	Users      int    `bun:"users"`
	Assistants int    `bun:"assistants"`
	Sent       int    `bun:"sent"`    // assistant messages Meta accepted (Meta's id stored)
	Pending    int    `bun:"pending"` // assistant messages not (yet) accepted
	LastUser   int64  `bun:"last_user"`
	Ledger     int    `bun:"ledger"` // reply ledger rows pointing at its assistant messages
	Extracted  int    `bun:"extracted"`
}

func (d *deployment) whatsappConversations(ctx context.Context) ([]convRow, error) {
	var rows []convRow
	err := d.st.DB.NewRaw(`
SELECT c.id, c.customer,
  (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.role = 'user') AS users,
  (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.role = 'assistant') AS assistants,
  (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.role = 'assistant' AND m.provider_message_id LIKE 'wamid.FAULT%') AS sent,
  (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.role = 'assistant' AND (m.provider_message_id IS NULL OR m.provider_message_id NOT LIKE 'wamid.FAULT%')) AS pending,
  COALESCE((SELECT max(m.id) FROM messages m WHERE m.conversation_id = c.id AND m.role = 'user'), 0) AS last_user,
  (SELECT count(*) FROM usage_ledger u JOIN messages m ON m.id = u.message_id WHERE m.conversation_id = c.id AND m.role = 'assistant' AND u.purpose = 'reply') AS ledger,
  (SELECT count(*) FROM usage_ledger u WHERE u.conversation_id = c.id AND u.purpose = 'extraction'
     AND u.request_id = 'extract:' || c.id || ':' || COALESCE((SELECT max(m.id) FROM messages m WHERE m.conversation_id = c.id AND m.role = 'user'), 0)) AS extracted
FROM conversations c WHERE c.type = 'whatsapp' ORDER BY c.id`).Scan(ctx, &rows)
	return rows, err
}

// ---- figures ----

type figures struct {
	Scenario                                         string
	Sent, Acked, Stored, Processed, Lost, Duplicated int
	Recovery                                         time.Duration
	Notes                                            string
}

func (f figures) log(t *testing.T) {
	t.Helper()
	rec := "-"
	if f.Recovery > 0 {
		rec = f.Recovery.Round(100 * time.Millisecond).String()
	}
	t.Logf("FIGURES | %-22s | sent %4d | acknowledged %4d | stored %4d | processed %4d | lost %d | duplicated %d | recovery %s | %s",
		f.Scenario, f.Sent, f.Acked, f.Stored, f.Processed, f.Lost, f.Duplicated, rec, f.Notes)
}

func acked(ds []delivery) []string {
	var ids []string
	for _, d := range ds {
		if d.Acked {
			ids = append(ids, d.ID)
		}
	}
	return ids
}

func allIDs(ds []delivery) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

func short(ids []string) string {
	if len(ids) > 5 {
		return strings.Join(ids[:5], ", ") + fmt.Sprintf(" and %d more", len(ids)-5)
	}
	return strings.Join(ids, ", ")
}

// usageIntegrity checks the ledger against the conversations' totals and the daily rollups.
func (d *deployment) usageIntegrity(ctx context.Context) (untallied int64, drift []string, err error) {
	untallied, err = d.st.UntalliedUsage(ctx)
	if err != nil {
		return
	}
	var ids []int64
	if err = d.st.DB.NewSelect().TableExpr("conversations").Column("id").Scan(ctx, &ids); err != nil {
		return
	}
	td, err := d.st.ConversationTotalsDrift(ctx, ids)
	if err != nil {
		return
	}
	for _, x := range td {
		drift = append(drift, "conversation totals: "+x.String())
	}
	day := store.Day(time.Now())
	from := store.Day(time.Now().Add(-48 * time.Hour))
	rd, err := d.st.LedgerRollupDrift(ctx, from, day)
	if err != nil {
		return
	}
	for _, x := range rd {
		drift = append(drift, "daily rollup: "+x.String())
	}
	return
}
