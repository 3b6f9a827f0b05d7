package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/whatsapp"
)

// WhatsAppOptions drives the webhook load tool (`parley bench whatsapp`).
type WhatsAppOptions struct {
	URL           string        // the webhook, e.g. http://127.0.0.1:8080/webhooks/whatsapp; loopback only
	Secret        string        // PARLEY_WHATSAPP_APP_SECRET of the server
	PhoneNumberID string        // metadata.phone_number_id (an assistant connected to it)
	Rate          float64       // webhooks per second
	Duration      time.Duration // how long to send
	Concurrency   int           // requests in flight at most (default 256)
	Customers     int           // distinct senders (default 500)
	Timeout       time.Duration // per request (default 10 s)
	Prefix        string        // message id prefix (default random, so runs never collide)
}

// MaxWhatsAppRequests bounds one run (rate × duration).
const MaxWhatsAppRequests = 1_000_000

// WhatsAppResult is what a run measured.
type WhatsAppResult struct {
	Planned, Sent, OK int
	Errors            map[string]int // by kind: "HTTP 503", "timeout", ...
	Elapsed           time.Duration  // first send to last answer
	Rate              float64        // acknowledged (200) webhooks per second
	P50, P95, P99     time.Duration
	Max, Mean         time.Duration
	IDs               []string // message ids acknowledged with 200
}

// ErrorCount is the number of failed requests.
func (r *WhatsAppResult) ErrorCount() int {
	n := 0
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// CheckLoopback refuses any URL that is not http(s) to a loopback address: the tool sends
// load, and only to this machine.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("--url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("--url must be http:// or https://, not %q", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--url must point at this machine (localhost, 127.0.0.1 or ::1), not %q", host)
	}
	return nil
}

// WhatsAppTextWebhook is Meta's webhook of one text message from the customer wa_id "from".
func WhatsAppTextWebhook(phoneNumberID, msgID, from, text string, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{"id": "102290129340398", "changes": []any{map[string]any{"field": "messages", "value": map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]any{"display_phone_number": "15550783881", "phone_number_id": phoneNumberID},
			"contacts":          []any{map[string]any{"profile": map[string]any{"name": "Bench " + from}, "wa_id": from}},
			"messages":          []any{map[string]any{"from": from, "id": msgID, "timestamp": strconv.FormatInt(at.Unix(), 10), "type": "text", "text": map[string]any{"body": text}}},
		}}}}},
	})
	return b
}

func randPrefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// WhatsApp sends signed webhooks of one text message each, with unique message ids, at
// o.Rate per second for o.Duration (open loop: sends are scheduled at fixed times, so a slow
// server shows as latency and a lower achieved rate), and reports to w.
func WhatsApp(ctx context.Context, o WhatsAppOptions, w io.Writer) (*WhatsAppResult, error) {
	if err := CheckLoopback(o.URL); err != nil {
		return nil, err
	}
	switch {
	case o.Secret == "":
		return nil, errors.New("the app secret is required (--secret)")
	case o.Rate <= 0 || o.Rate > 100_000:
		return nil, errors.New("--rate must be between 0 and 100000 per second")
	case o.Duration <= 0 || o.Duration > time.Hour:
		return nil, errors.New("--duration must be between 0 and 1h")
	}
	planned := int(o.Rate * o.Duration.Seconds())
	if planned < 1 {
		planned = 1
	}
	if planned > MaxWhatsAppRequests {
		return nil, fmt.Errorf("rate × duration is %d webhooks; at most %d", planned, MaxWhatsAppRequests)
	}
	if o.PhoneNumberID == "" {
		o.PhoneNumberID = "106540352242922"
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 256
	}
	if o.Customers <= 0 {
		o.Customers = 500
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Prefix == "" {
		o.Prefix = randPrefix()
	}
	hc := &http.Client{
		Timeout:   o.Timeout,
		Transport: &http.Transport{MaxIdleConns: o.Concurrency, MaxIdleConnsPerHost: o.Concurrency, IdleConnTimeout: 30 * time.Second},
		// Never follow a redirect elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer hc.CloseIdleConnections()

	res := &WhatsAppResult{Planned: planned, Errors: map[string]int{}}
	lat := make([]time.Duration, 0, planned)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, o.Concurrency)
	interval := time.Duration(float64(time.Second) / o.Rate)
	start := time.Now()
	var last time.Time
	fmt.Fprintf(w, "bench whatsapp: %d webhooks to %s at %.0f/s for %s (at most %d in flight)\n", planned, o.URL, o.Rate, o.Duration, o.Concurrency)
loop:
	for i := 0; i < planned; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-ctx.Done():
				break loop
			case <-time.After(d):
			}
		}
		select {
		case <-ctx.Done():
			break loop
		case sem <- struct{}{}:
		}
		id := fmt.Sprintf("wamid.BENCH.%s.%d", o.Prefix, i)
		from := strconv.Itoa(15550000000 + i%o.Customers)
		body := WhatsAppTextWebhook(o.PhoneNumberID, id, from, "bench message "+strconv.Itoa(i), time.Now())
		sig := whatsapp.Sign(o.Secret, body)
		res.Sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(body))
			if err != nil {
				mu.Lock()
				res.Errors["request: "+err.Error()]++
				mu.Unlock()
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(whatsapp.SignatureHeader, sig)
			t0 := time.Now()
			r, err := hc.Do(req)
			var code int
			if err == nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<16))
				r.Body.Close()
				code = r.StatusCode
			}
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if t := t0.Add(d); t.After(last) {
				last = t
			}
			switch {
			case err != nil:
				kind := "network"
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					kind = "timeout"
				} else if errors.Is(err, context.Canceled) {
					kind = "cancelled"
				}
				res.Errors[kind]++
			case code != http.StatusOK:
				res.Errors["HTTP "+strconv.Itoa(code)]++
			default:
				res.OK++
				lat = append(lat, d)
				res.IDs = append(res.IDs, id)
			}
		}()
	}
	wg.Wait()
	if last.IsZero() {
		last = time.Now()
	}
	res.Elapsed = last.Sub(start)
	if res.Elapsed > 0 {
		res.Rate = float64(res.OK) / res.Elapsed.Seconds()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if n := len(lat); n > 0 {
		pct := func(p float64) time.Duration {
			k := int(float64(n)*p+0.999999) - 1
			if k < 0 {
				k = 0
			}
			if k >= n {
				k = n - 1
			}
			return lat[k]
		}
		res.P50, res.P95, res.P99, res.Max = pct(0.50), pct(0.95), pct(0.99), lat[n-1]
		var sum time.Duration
		for _, d := range lat {
			sum += d
		}
		res.Mean = sum / time.Duration(n)
	}
	fmt.Fprintf(w, "sent %d of %d, acknowledged (200) %d, errors %d, in %s\n", res.Sent, planned, res.OK, res.ErrorCount(), res.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "achieved rate: %.1f acknowledged webhooks/s (target %.0f/s)\n", res.Rate, o.Rate)
	fmt.Fprintf(w, "acknowledgement latency: p50 %s  p95 %s  p99 %s  max %s  mean %s\n", msf(res.P50), msf(res.P95), msf(res.P99), msf(res.Max), msf(res.Mean))
	if len(res.Errors) > 0 {
		kinds := make([]string, 0, len(res.Errors))
		for k := range res.Errors {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			fmt.Fprintf(w, "  error %s: %d\n", k, res.Errors[k])
		}
	}
	return res, ctx.Err()
}

func msf(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

// WhatsAppCheck is how the acknowledged message ids are found in the database.
type WhatsAppCheck struct {
	IDs                           int
	Events, EventsMissing, EvDups int // inbound_events (provider whatsapp, provider_id)
	Messages, MsgMissing, MsgDups int // messages (provider_message_id), after processing
	Waited                        time.Duration
}

// OK reports every id stored exactly once as an event and as a message.
func (c *WhatsAppCheck) OK() bool {
	return c.EventsMissing == 0 && c.EvDups == 0 && c.MsgMissing == 0 && c.MsgDups == 0
}

// CheckWhatsApp checks that every id is in inbound_events exactly once and, waiting up to
// wait for the workers to process them, in messages exactly once.
func CheckWhatsApp(ctx context.Context, st *store.Store, ids []string, wait time.Duration, w io.Writer) (*WhatsAppCheck, error) {
	c := &WhatsAppCheck{IDs: len(ids)}
	count := func(events bool) (found, missing, dups int, err error) {
		seen, err := st.CountByProviderID(ctx, events, ids)
		if err != nil {
			return 0, 0, 0, err
		}
		for _, id := range ids {
			switch n := seen[id]; {
			case n == 0:
				missing++
			case n > 1:
				dups++
				found++
			default:
				found++
			}
		}
		return found, missing, dups, nil
	}
	var err error
	if c.Events, c.EventsMissing, c.EvDups, err = count(true); err != nil {
		return nil, err
	}
	t0 := time.Now()
	for {
		if c.Messages, c.MsgMissing, c.MsgDups, err = count(false); err != nil {
			return nil, err
		}
		if c.MsgMissing == 0 || time.Since(t0) >= wait || ctx.Err() != nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	c.Waited = time.Since(t0)
	fmt.Fprintf(w, "check: %d acknowledged ids; inbound_events: %d found, %d missing, %d duplicated; messages: %d found, %d missing, %d duplicated (waited %s for processing)\n",
		c.IDs, c.Events, c.EventsMissing, c.EvDups, c.Messages, c.MsgMissing, c.MsgDups, c.Waited.Round(100*time.Millisecond))
	if c.OK() {
		fmt.Fprintln(w, "check: every acknowledged message is in the database exactly once")
	} else {
		fmt.Fprintln(w, "check: FAILED")
	}
	return c, nil
}
