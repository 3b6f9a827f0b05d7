package store_test

import (
	"context"
	"testing"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

func TestAssistantColumnsDecodeLeniently(t *testing.T) {
	// The shape the demo seed used to write: no type, no "variable", no list at all.
	var vs store.Variables
	var fs store.PrechatFields
	var os store.Origins
	var w store.WidgetSettings
	if err := vs.Scan(`[{"name":"name","description":"full name"}]`); err != nil {
		t.Fatal(err)
	}
	if err := fs.Scan([]byte(`[{"name":"name","label":"Your name","required":true}]`)); err != nil {
		t.Fatal(err)
	}
	if err := os.Scan(""); err != nil {
		t.Fatal(err)
	}
	if err := w.Scan(`{"title":"T","position":"right","whatsapp_business_account_id":"42"}`); err != nil {
		t.Fatal(err)
	}
	if vs[0].Type != "text" || vs[0].Options == nil || fs[0].Type != "text" || os == nil || w.Title != "T" || w.WABAID != "42" {
		t.Fatalf("decoded %+v %+v %+v %+v", vs, fs, os, w)
	}
	if err := vs.Scan("{"); err == nil {
		t.Fatal("broken JSON accepted")
	}
	if err := new(store.WidgetSettings).Scan(`{"title":1}`); err == nil {
		t.Fatal("a title that is not a string accepted")
	}
	// Written back: unknown keys kept, the id cleared on request.
	w.Color, w.WABAID = "#0a7d5a", ""
	if v, err := w.Value(); err != nil || v != `{"color":"#0a7d5a","position":"right","title":"T"}` {
		t.Fatalf("widget_settings written as %v %v", v, err)
	}
}

func TestAssistantColumnsKeepTheirJSONText(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws := asWS(t, s, "J")
		a := asCreate(t, s, &store.Assistant{WorkspaceID: ws, Name: "Empty", Model: "m"})
		b := asCreate(t, s, &store.Assistant{WorkspaceID: ws, Name: "Full", Model: "m",
			Variables:      []model.Variable{{Name: "email", Type: "email", Required: true, Options: []string{}}},
			PrechatFields:  []model.PrechatField{{Name: "email", Label: "Your email", Type: "email"}},
			AllowedOrigins: []string{"https://shop.example.com"},
			WidgetSettings: store.WidgetSettings{Widget: model.Widget{Title: "Help", Color: "#0a7d5a"}, WABAID: "7"}})
		for _, c := range []struct {
			id                 int64
			vars, pre, or, wid string
		}{
			{a.ID, `[]`, `[]`, `[]`, `{}`},
			{b.ID, `[{"name":"email","description":"","type":"email","required":true,"options":[]}]`,
				`[{"name":"email","label":"Your email","type":"email","variable":"","required":false}]`,
				`["https://shop.example.com"]`, `{"color":"#0a7d5a","title":"Help","whatsapp_business_account_id":"7"}`},
		} {
			var vars, pre, or, wid string
			err := s.DB.NewSelect().Table("assistants").Column("variables", "prechat_fields", "allowed_origins", "widget_settings").
				Where("id = ?", c.id).Scan(ctx, &vars, &pre, &or, &wid)
			if err != nil {
				t.Fatal(err)
			}
			if vars != c.vars || pre != c.pre || or != c.or || wid != c.wid {
				t.Errorf("assistant %d columns:\n%s\n%s\n%s\n%s", c.id, vars, pre, or, wid)
			}
		}
		got, err := s.AssistantByID(ctx, ws, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		m := got.AsModel()
		if m.Variables[0].Name != "email" || m.PrechatFields[0].Fills() != "email" || m.AllowedOrigins[0] != "https://shop.example.com" ||
			m.Widget.Title != "Help" || m.WhatsApp.WABAID != "7" || m.WhatsAppConnected() {
			t.Fatalf("read back %+v", m)
		}
	})
}
