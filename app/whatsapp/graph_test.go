package whatsapp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"testing"

	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/whatsapp"
)

type graphCall struct {
	Path, Auth string
	Body       map[string]any
}

// graph is testkit's fake Graph API answering with status and body; calls lists what it saw.
func graph(t *testing.T, status int, body string) (*testkit.FakeGraph, func() []graphCall) {
	t.Helper()
	g := testkit.NewFakeGraph(t)
	for range 4 {
		g.Then(testkit.GraphAnswer{Status: status, Body: body})
	}
	return g, func() []graphCall {
		var calls []graphCall
		for _, r := range g.Requests() {
			calls = append(calls, graphCall{Path: r.Path, Auth: r.Auth, Body: r.Body})
		}
		return calls
	}
}

func TestSendTextWireFormat(t *testing.T) {
	srv, calls := graph(t, 200, `{"messaging_product":"whatsapp","contacts":[{"input":"16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.SENT1"}]}`)
	c := whatsapp.NewClient(srv.URL + "/v21.0/")
	id, err := c.SendText(context.Background(), "106540352242922", "tok-1", "16505551234", "Blue is in stock.", "parley:reply:1:2")
	if err != nil || id != "wamid.SENT1" {
		t.Fatalf("SendText = %q, %v", id, err)
	}
	got := calls()[0]
	if got.Path != "/v21.0/106540352242922/messages" || got.Auth != "Bearer tok-1" {
		t.Fatalf("request: %+v", got)
	}
	b := got.Body
	text, _ := b["text"].(map[string]any)
	if b["messaging_product"] != "whatsapp" || b["recipient_type"] != "individual" || b["to"] != "16505551234" || b["type"] != "text" ||
		text["body"] != "Blue is in stock." || b["biz_opaque_callback_data"] != "parley:reply:1:2" {
		t.Fatalf("body: %v", b)
	}
}

func TestSendTemplateWireFormat(t *testing.T) {
	srv, calls := graph(t, 200, `{"messages":[{"id":"wamid.T"}]}`)
	c := whatsapp.NewClient(srv.URL)
	id, err := c.SendTemplate(context.Background(), "P", "tok", "111", whatsapp.Template{Name: "order_update", Language: "en_US", BodyParams: []string{"Ada", "#42"}}, "")
	if err != nil || id != "wamid.T" {
		t.Fatalf("SendTemplate = %q, %v", id, err)
	}
	b, _ := json.Marshal(calls()[0].Body)
	want := `{"messaging_product":"whatsapp","recipient_type":"individual","template":{"components":[{"parameters":[{"text":"Ada","type":"text"},{"text":"#42","type":"text"}],"type":"body"}],"language":{"code":"en_US"},"name":"order_update"},"to":"111","type":"template"}`
	if string(b) != want {
		t.Fatalf("template body:\n%s\nwant\n%s", b, want)
	}
	if _, err := c.SendTemplate(context.Background(), "P", "tok", "111", whatsapp.Template{Name: "x"}, ""); err == nil {
		t.Fatal("a template without a language is refused")
	}
}

func TestSendErrors(t *testing.T) {
	refusal := string(fixture(t, "send_error_131047.json"))
	cases := []struct {
		name         string
		status       int
		body         string
		retryable    bool
		windowClosed bool
		notSent      bool
		text         string
	}{
		{"131047", 400, refusal, false, true, true, "(#131047) Re-engagement message: Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
		{"429", 429, `{"error":{"message":"(#80007) Rate limit","code":80007}}`, true, false, true, "(#80007) Rate limit"},
		{"500", 500, `{"error":{"message":"Service temporarily unavailable","code":2}}`, true, false, true, "Service temporarily unavailable"},
		{"502 html", 502, `<html>bad gateway</html>`, true, false, true, "Bad Gateway: <html>bad gateway</html>"},
		{"throttled as 400", 400, `{"error":{"message":"(#130429) Rate limit hit","code":130429}}`, true, false, true, "(#130429) Rate limit hit"},
		{"bad recipient", 400, `{"error":{"message":"(#131026) Message undeliverable","code":131026}}`, false, false, true, "(#131026) Message undeliverable"},
		{"bad token", 401, `{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}}`, false, false, true, "Invalid OAuth access token."},
		{"200 without id", 200, `{"messages":[]}`, false, false, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := graph(t, tc.status, tc.body)
			_, err := whatsapp.NewClient(srv.URL).SendText(context.Background(), "P", "tok", "111", "hi", "")
			var ae *whatsapp.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("want *APIError, got %v", err)
			}
			if ae.Retryable() != tc.retryable || ae.WindowClosed() != tc.windowClosed || whatsapp.NotSent(err) != tc.notSent {
				t.Fatalf("%+v: retryable %v window %v notSent %v", ae, ae.Retryable(), ae.WindowClosed(), whatsapp.NotSent(err))
			}
			if tc.text != "" && ae.Text() != tc.text {
				t.Fatalf("Text() = %q, want %q", ae.Text(), tc.text)
			}
		})
	}
}

func TestSendNetworkErrors(t *testing.T) {
	// Nothing listens: the request never left, so a retry cannot send twice.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	_, err := whatsapp.NewClient("http://"+addr).SendText(context.Background(), "P", "tok", "1", "hi", "")
	if err == nil || !whatsapp.NotSent(err) {
		t.Fatalf("refused connection: %v notSent=%v", err, whatsapp.NotSent(err))
	}
	// The server took the request and hung up: the outcome is unknown.
	srv := testkit.NewFakeGraph(t)
	srv.Then(testkit.GraphAnswer{Hangup: true})
	_, err = whatsapp.NewClient(srv.URL).SendText(context.Background(), "P", "tok", "1", "hi", "")
	if err == nil || whatsapp.NotSent(err) {
		t.Fatalf("hung up after the request: %v notSent=%v", err, whatsapp.NotSent(err))
	}
	if _, err := whatsapp.NewClient(srv.URL).SendText(context.Background(), "", "tok", "1", "hi", ""); err == nil {
		t.Fatal("no phone number id: refused before any request")
	}
}
