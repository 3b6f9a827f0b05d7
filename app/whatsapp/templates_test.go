package whatsapp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/whatsapp"
)

func TestValidateTemplate(t *testing.T) {
	ok := whatsapp.TemplateDraft{Name: "order_update", Language: "en_US", Category: "UTILITY", Body: "Hi {{1}}, order {{2}} shipped.", Params: " name , order_no "}
	if errs := whatsapp.ValidateTemplate(&ok); len(errs) != 0 || ok.Params != "name,order_no" {
		t.Fatalf("valid template: %v %q", errs, ok.Params)
	}
	cases := []struct {
		d          whatsapp.TemplateDraft
		field, msg string
	}{
		{whatsapp.TemplateDraft{Name: "Order", Language: "en", Category: "UTILITY", Body: "x"}, "name", "lowercase letters"},
		{whatsapp.TemplateDraft{Name: "o", Language: "english", Category: "UTILITY", Body: "x"}, "language", "en or en_US"},
		{whatsapp.TemplateDraft{Name: "o", Language: "en", Category: "OTHER", Body: "x"}, "category", "MARKETING, UTILITY or AUTHENTICATION"},
		{whatsapp.TemplateDraft{Name: "o", Language: "en", Category: "UTILITY", Body: "  "}, "body", "Write the template's body."},
		{whatsapp.TemplateDraft{Name: "o", Language: "en", Category: "UTILITY", Body: strings.Repeat("a", 1025)}, "body", "at most 1024"},
		{whatsapp.TemplateDraft{Name: "o", Language: "en", Category: "UTILITY", Body: "{{1}} {{3}}"}, "body", "consecutively from 1"},
		{whatsapp.TemplateDraft{Name: "o", Language: "en", Category: "UTILITY", Body: "{{1}}", Params: "a b"}, "params", "letters, digits"},
		{whatsapp.TemplateDraft{Name: "o", Language: "en", Category: "UTILITY", Body: "{{1}}", Params: "a,b"}, "params", "More variables"},
	}
	for _, c := range cases {
		errs := whatsapp.ValidateTemplate(&c.d)
		if !strings.Contains(errs[c.field], c.msg) {
			t.Errorf("%+v: %v", c.d, errs)
		}
	}
	if got := whatsapp.FillTemplate("Hi {{1}}, {{ 2 }} and {{3}}", []string{"Ada", "#42"}); got != "Hi Ada, #42 and {{3}}" {
		t.Fatalf("fill: %q", got)
	}
	if n := whatsapp.TemplateParamCount("{{2}} {{1}} {{2}}"); n != 2 {
		t.Fatalf("count: %d", n)
	}
}

func TestTemplateService(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws, _, err := s.CreateWorkspaceWithUser(ctx, "WS", "tpl@example.com", "hash")
		if err != nil {
			t.Fatal(err)
		}
		pid := "106540352242922"
		a := &store.Assistant{WorkspaceID: ws.ID, Name: "Shop", WhatsAppPhoneNumberID: &pid, WhatsAppAccessTokenEnc: "sealed:tok"}
		plain := &store.Assistant{WorkspaceID: ws.ID, Name: "Web only"}
		for _, x := range []*store.Assistant{a, plain} {
			if err := s.CreateAssistant(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		g := testkit.NewFakeGraph(t)
		g.Token = "tok"
		g.PageSize = 1
		g.Templates = map[string][]testkit.FakeTemplate{"123456": {
			{Name: "order_update", Language: "en_US", Category: "utility", Status: "APPROVED", Body: "Order {{1}} shipped."},
			{Name: "promo", Language: "en", Category: "MARKETING", Status: "REJECTED", Body: "Sale"},
			{Name: "bad", Language: "en", Category: "UTILITY", Status: "APPROVED", Body: "{{2}}"},
		}}
		svc := &whatsapp.Service{Store: s, Client: whatsapp.NewClient(g.URL + "/v21.0"),
			Decrypt: func(sealed string) (string, error) { return strings.TrimPrefix(sealed, "sealed:"), nil }}

		// Create: field errors, the number check, duplicates.
		errs, err := svc.CreateTemplate(ctx, ws.ID, &whatsapp.TemplateDraft{AssistantID: plain.ID, Name: "hello", Language: "en", Category: "UTILITY", Body: "Hello"})
		if err != nil || errs["assistant_id"] != "Choose an assistant connected to a WhatsApp number." {
			t.Fatalf("not a WhatsApp number: %v %v", errs, err)
		}
		d := whatsapp.TemplateDraft{AssistantID: a.ID, Name: "hello", Language: "en", Category: "UTILITY", Body: "Hello {{1}}", Params: "name"}
		if errs, err := svc.CreateTemplate(ctx, ws.ID, &d); err != nil || len(errs) != 0 {
			t.Fatalf("create: %v %v", errs, err)
		}
		if errs, err := svc.CreateTemplate(ctx, ws.ID, &d); err != nil || errs["name"] != "This number already has a template hello in en." {
			t.Fatalf("duplicate: %v %v", errs, err)
		}

		// Fetch without the account id, then save a bad and a good one, then fetch.
		if _, _, bad, err := svc.ImportTemplates(ctx, ws.ID, a.ID); err != nil || !strings.Contains(bad, "needs the WhatsApp Business Account id") {
			t.Fatalf("fetch without waba: %q %v", bad, err)
		}
		if _, bad, err := svc.SaveWABA(ctx, ws.ID, a.ID, "12x"); err != nil || bad != "The WhatsApp Business Account id is a number of up to 32 digits." {
			t.Fatalf("bad waba: %q %v", bad, err)
		}
		if _, _, err := svc.SaveWABA(ctx, ws.ID, plain.ID, "1"); err != store.ErrNotFound {
			t.Fatalf("waba of a number-less assistant: %v", err)
		}
		if _, bad, err := svc.SaveWABA(ctx, ws.ID, a.ID, " 123456 "); err != nil || bad != "" {
			t.Fatalf("save waba: %q %v", bad, err)
		}
		got, _ := s.AssistantByID(ctx, ws.ID, a.ID)
		if whatsapp.WABAID(got) != "123456" {
			t.Fatalf("waba saved: %+v", got.WidgetSettings)
		}
		_, notice, bad, err := svc.ImportTemplates(ctx, ws.ID, a.ID)
		if err != nil || bad != "" || notice != "Imported 1 approved template(s) from Meta; 2 skipped (not approved, or without a usable body)." {
			t.Fatalf("import: %q %q %v", notice, bad, err)
		}
		ts, err := s.WhatsAppTemplates(ctx, ws.ID, 0)
		if err != nil || len(ts) != 2 {
			t.Fatalf("templates: %+v %v", ts, err)
		}
		for _, r := range g.Requests() {
			if r.Auth != "Bearer tok" || !strings.HasSuffix(r.Path, "/123456/message_templates") {
				t.Fatalf("request: %+v", r)
			}
		}
		if len(g.Requests()) != 3 {
			t.Fatalf("pages read: %d", len(g.Requests()))
		}

		// Meta's refusal is worded as before.
		g.Fail(1, testkit.GraphInvalidToken)
		if _, _, bad, err := svc.ImportTemplates(ctx, ws.ID, a.ID); err != nil || bad != "Meta's API refused the request: HTTP 401: Invalid OAuth access token." {
			t.Fatalf("refused: %q %v", bad, err)
		}
		// Clearing the id.
		if _, bad, err := svc.SaveWABA(ctx, ws.ID, a.ID, ""); err != nil || bad != "" {
			t.Fatalf("clear: %q %v", bad, err)
		}
		got, _ = s.AssistantByID(ctx, ws.ID, a.ID)
		if whatsapp.WABAID(got) != "" {
			t.Fatalf("waba cleared: %+v", got.WidgetSettings)
		}
	})
}
