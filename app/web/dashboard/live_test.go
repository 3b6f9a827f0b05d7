package dashboard_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
)

// stream opens an SSE URL with c's cookies and returns a channel of "data:" payloads (one
// string per event) and a function that closes the stream.
func (e *env) stream(c *http.Client, path string) (<-chan string, func()) {
	e.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.URL+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err := c.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		e.T.Fatalf("stream %s: %d %q", path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	out := make(chan string, 16)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "data: "):
				data = append(data, strings.TrimPrefix(line, "data: "))
			case line == "" && len(data) > 0:
				out <- strings.Join(data, "\n")
				data = nil
			}
		}
	}()
	return out, func() { cancel(); res.Body.Close() }
}

func waitSubscribers(t *testing.T, e *env, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.App.Events.Subscribers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("subscribers: %d, want %d", e.App.Events.Subscribers(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLiveUpdatesStayInTheirWorkspaceAndReleaseOnClose(t *testing.T) {
	e := newEnv(t)
	ana := e.fixture("ana@example.com")
	bob := e.fixture("bob@example.com")
	ca, cb := e.Client(), e.Client()
	e.Login(ca, "ana@example.com", "correct-horse")
	e.Login(cb, "bob@example.com", "correct-horse")

	anaList, closeAna := e.stream(ca, "/conversations/events")
	bobList, closeBob := e.stream(cb, "/conversations/events")
	conv := ana.convs["widget"]
	anaDetail, closeDetail := e.stream(ca, "/conversations/"+webtest.Itoa(conv.ID)+"/events")
	waitSubscribers(t, e, 3)

	// Bob cannot open a stream on Ana's conversation.
	res := e.Get(cb, "/conversations/"+webtest.Itoa(conv.ID)+"/events")
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("bob on ana's conversation stream: %d", res.StatusCode)
	}

	secret := "ana-only-secret-text"
	m := &store.Message{WorkspaceID: ana.ws.ID, ConversationID: conv.ID, Role: "user", Content: secret}
	if _, err := e.App.Conversations.AddMessage(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	// A forged event on Bob's channel naming Ana's conversation renders nothing of Ana's.
	e.App.Events.Publish(context.Background(), events.Event{Kind: events.MessageAdded, WorkspaceID: bob.ws.ID, ConversationID: conv.ID, MessageID: m.ID})

	expect := func(ch <-chan string, what string) string {
		t.Helper()
		select {
		case d := <-ch:
			return d
		case <-time.After(20 * time.Second):
			t.Fatalf("no event on %s", what)
		}
		return ""
	}
	// Bob's and the detail's first events are consumed below; Ana's list sees the message.
	if d := expect(anaList, "ana's list"); !strings.Contains(d, secret) || !strings.Contains(d, `afterbegin:#conv-rows`) {
		t.Fatalf("ana's list update: %s", d)
	}
	if d := expect(anaDetail, "ana's detail"); !strings.Contains(d, secret) || !strings.Contains(d, "beforeend:#timeline") {
		t.Fatalf("ana's detail update: %s", d)
	}
	// Bob gets at most a harmless removal of a row he cannot have, never Ana's data.
	timeout := time.After(1500 * time.Millisecond)
	for done := false; !done; {
		select {
		case d := <-bobList:
			if strings.Contains(d, secret) || strings.Contains(d, ana.convs["widget"].Customer) {
				t.Fatalf("bob saw ana's data: %s", d)
			}
		case <-timeout:
			done = true
		}
	}
	// Deleting updates the badge of open pages.
	if err := e.App.Conversations.Delete(context.Background(), ana.ws.ID, ana.convs["test"].ID); err != nil {
		t.Fatal(err)
	}
	sawBadge := false
	for i := 0; i < 3 && !sawBadge; i++ {
		d := expect(anaList, "ana's list after delete")
		sawBadge = strings.Contains(d, `id="nav-count"`) && strings.Contains(d, ">2<")
	}
	if !sawBadge {
		t.Fatal("the badge did not follow the count")
	}

	// Closing the tab releases the subscription.
	closeAna()
	closeBob()
	closeDetail()
	waitSubscribers(t, e, 0)
}

// The WhatsApp panel of an open detail page follows the window: a message that changes nothing
// leaves the panel (and a reply being typed) alone; the window closing swaps in the panel
// that offers templates only.
func TestLiveUpdateSwapsTheWhatsAppPanelWhenTheWindowCloses(t *testing.T) {
	e := newEnv(t)
	ana := e.fixture("ana@example.com")
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	conv := ana.convs["whatsapp"]
	ctx := context.Background()
	open := time.Now().Add(time.Hour).UTC()
	if _, err := e.App.Store.DB.NewUpdate().Table("conversations").Set("window_expires_at = ?", open).Set("window_closed_at = NULL").
		Where("id = ?", conv.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	detail, closeDetail := e.stream(c, "/conversations/"+webtest.Itoa(conv.ID)+"/events")
	defer closeDetail()
	waitSubscribers(t, e, 1)
	next := func() string {
		t.Helper()
		select {
		case d := <-detail:
			return d
		case <-time.After(20 * time.Second):
			t.Fatal("no live update")
		}
		return ""
	}
	m := &store.Message{WorkspaceID: ana.ws.ID, ConversationID: conv.ID, Role: "assistant", Content: "still open"}
	if _, err := e.App.Conversations.AddMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if d := next(); !strings.Contains(d, "still open") || strings.Contains(d, `id="wa-panel"`) {
		t.Fatalf("a message with the window still open: %s", d)
	}
	past := time.Now().Add(-time.Minute).UTC()
	if _, err := e.App.Store.DB.NewUpdate().Table("conversations").Set("window_expires_at = ?", past).Set("window_closed_at = ?", past).
		Where("id = ?", conv.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	e.App.Events.Publish(ctx, events.Event{Kind: events.ConversationChanged, WorkspaceID: ana.ws.ID, ConversationID: conv.ID})
	d := next()
	if !strings.Contains(d, `id="wa-panel"`) || !strings.Contains(d, `hx-swap-oob="true"`) || !strings.Contains(d, `id="wa-closed"`) {
		t.Fatalf("the window closed, the panel was not swapped: %s", d)
	}
	// Nothing changed since: the next update leaves the panel alone again.
	e.App.Events.Publish(ctx, events.Event{Kind: events.ConversationChanged, WorkspaceID: ana.ws.ID, ConversationID: conv.ID})
	if d := next(); strings.Contains(d, `id="wa-panel"`) {
		t.Fatalf("an update without a change swapped the panel: %s", d)
	}
}
