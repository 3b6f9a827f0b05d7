package whatsapp_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/whatsapp"
)

// Meta confirms a number with a 200 naming the same id; everything else is a refusal, or,
// when the Graph API could not be asked, unknown (Unreachable).
func TestConfirmNumber(t *testing.T) {
	g := testkit.NewFakeGraph(t)
	g.Token = "tok"
	g.Know("106540352242922", "+1 555-078-3881", "Ada's Shop")
	c := whatsapp.NewClient(g.URL + "/v21.0")
	ctx := context.Background()

	n, err := c.ConfirmNumber(ctx, "106540352242922", "tok")
	if err != nil || n.DisplayPhoneNumber != "+1 555-078-3881" || n.VerifiedName != "Ada's Shop" {
		t.Fatalf("confirmed: %+v %v", n, err)
	}
	r := g.Lookups()
	if len(r) != 1 || r[0].Path != "/v21.0/106540352242922" || r[0].RawQuery != "fields=display_phone_number,verified_name" || r[0].Auth != "Bearer tok" {
		t.Fatalf("request %+v", r)
	}

	cases := []struct {
		name, pid, token string
		answer           *testkit.GraphAnswer
		unreachable      bool
		reason           string
	}{
		{"unknown id", "999", "tok", nil, false, "cannot see that phone number id"},
		{"bad token", "106540352242922", "stolen", nil, false, "invalid or has expired"},
		{"403", "106540352242922", "tok", &testkit.GraphAnswer{Status: 403, Body: "Forbidden"}, false, "Meta did not confirm"},
		{"another id", "106540352242922", "tok", &testkit.GraphAnswer{Status: 200, Body: `{"display_phone_number":"+1 555","verified_name":"X","id":"1"}`}, false, "names another number"},
		{"no number", "106540352242922", "tok", &testkit.GraphAnswer{Status: 200, Body: `{"id":"106540352242922"}`}, false, "no phone number"},
		{"not json", "106540352242922", "tok", &testkit.GraphAnswer{Status: 200, Body: `<html>`}, false, "names another number"},
		{"5xx", "106540352242922", "tok", &testkit.GraphAnswer{Error: &testkit.GraphUnknown}, true, "did not answer"},
		{"throttled", "106540352242922", "tok", &testkit.GraphAnswer{Error: &testkit.GraphRateLimited}, true, "did not answer"},
		{"proxy page", "106540352242922", "tok", &testkit.GraphAnswer{Status: 404, Body: "<html>Not found</html>"}, true, "did not answer"},
	}
	for _, tc := range cases {
		if tc.answer != nil {
			g.Then(*tc.answer)
		}
		_, err := c.ConfirmNumber(ctx, tc.pid, tc.token)
		var ne *whatsapp.NumberError
		if !errors.As(err, &ne) || ne.Unreachable != tc.unreachable || !strings.Contains(ne.Reason, tc.reason) {
			t.Fatalf("%s: %#v", tc.name, err)
		}
	}
	_, err = whatsapp.NewClient("http://127.0.0.1:1").ConfirmNumber(ctx, "106540352242922", "tok")
	if ne := (*whatsapp.NumberError)(nil); !errors.As(err, &ne) || !ne.Unreachable {
		t.Fatalf("no server: %v", err)
	}
}

// Webhooks of a number reach only a connection Meta confirmed. One made before numbers were
// confirmed is confirmed with its stored token at its first event (once); when Meta refuses,
// its events reach nobody; when the Graph API cannot be asked, the event is retried.
func TestInboundRoutesOnlyToAConfirmedOwner(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws, _, err := s.CreateWorkspaceWithUser(ctx, "WS", "in@example.com", "hash")
		if err != nil {
			t.Fatal(err)
		}
		g := testkit.NewFakeGraph(t)
		g.Token = "tok"
		g.Know("1001", "+1 555-000-1001", "Legacy Shop")
		legacy := &store.Assistant{WorkspaceID: ws.ID, Name: "Legacy", WhatsAppPhoneNumberID: ptr("1001"), WhatsAppAccessTokenEnc: "sealed:tok"}
		refused := &store.Assistant{WorkspaceID: ws.ID, Name: "Refused", WhatsAppPhoneNumberID: ptr("1002"), WhatsAppAccessTokenEnc: "sealed:tok"}
		noToken := &store.Assistant{WorkspaceID: ws.ID, Name: "No token", WhatsAppPhoneNumberID: ptr("1003")}
		for _, a := range []*store.Assistant{legacy, refused, noToken} {
			if err := s.CreateAssistant(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		svc := &whatsapp.Service{Store: s, Client: whatsapp.NewClient(g.URL + "/v21.0"),
			Decrypt: func(sealed string) (string, error) { return strings.TrimPrefix(sealed, "sealed:"), nil }}
		msg := func(pid, id string) *whatsapp.EventPayload {
			return &whatsapp.EventPayload{PhoneNumberID: pid,
				Message: []byte(`{"from":"15551234567","id":"` + id + `","timestamp":"1700000000","type":"text","text":{"body":"hello"}}`)}
		}

		// Unreachable: retried later, nothing decided.
		g.Then(testkit.GraphAnswer{Error: &testkit.GraphUnknown})
		if _, err := svc.ReceiveMessage(ctx, msg("1001", "wamid.1"), "p1", time.Now()); err == nil || errors.Is(err, whatsapp.ErrUnknownNumber) {
			t.Fatalf("graph down: %v", err)
		}
		got, err := svc.ReceiveMessage(ctx, msg("1001", "wamid.1"), "p1", time.Now())
		if err != nil || got.Conversation.AssistantID == nil || *got.Conversation.AssistantID != legacy.ID {
			t.Fatalf("legacy connection confirmed at its first event: %+v %v", got, err)
		}
		row, err := s.AssistantByID(ctx, ws.ID, legacy.ID)
		if err != nil || row.WhatsAppVerifiedAt == nil || row.WhatsAppDisplayPhoneNumber != "+1 555-000-1001" || row.WhatsAppVerifiedName != "Legacy Shop" {
			t.Fatalf("confirmation stored: %+v %v", row, err)
		}
		if _, err := svc.ReceiveMessage(ctx, msg("1001", "wamid.2"), "p2", time.Now()); err != nil {
			t.Fatal(err)
		}
		if n := len(g.Lookups()); n != 2 {
			t.Fatalf("Meta asked %d times, want 2 (down, then confirmed once)", n)
		}

		for _, pid := range []string{"1002", "1003", "1004"} {
			if _, err := svc.ReceiveMessage(ctx, msg(pid, "wamid.x"+pid), "px"+pid, time.Now()); !errors.Is(err, whatsapp.ErrUnknownNumber) {
				t.Fatalf("%s: %v", pid, err)
			}
		}
		if row, _ := s.AssistantByID(ctx, ws.ID, refused.ID); row.WhatsAppVerifiedAt != nil {
			t.Fatal("a refused connection was confirmed")
		}
		if _, err := svc.ReceiveStatus(ctx, &whatsapp.EventPayload{PhoneNumberID: "1002", Status: []byte(`{"id":"wamid.9","status":"sent"}`)}); !errors.Is(err, whatsapp.ErrUnknownNumber) {
			t.Fatalf("status of an unconfirmed number: %v", err)
		}
	})
}

func ptr(s string) *string { return &s }
