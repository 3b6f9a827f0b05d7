package assistants_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/whatsapp"
)

// ConfirmWhatsApp asks Meta exactly when the connection to be stored was not confirmed with
// that number and token, and Apply stores what Meta said; a refusal or silence is a
// ConfirmError on whatsapp_access_token, except for an untouched connection never confirmed.
func TestConfirmWhatsAppAsksMetaOnlyWhenTheConnectionChanges(t *testing.T) {
	k, err := auth.DeriveKeys("test-secret-key-0123456789abcdef0123456789")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := auth.DeriveKeys("another-secret-key-0123456789abcdef012345")
	enc, _ := k.Encrypt("tok-1")
	foreign, _ := other.Encrypt("tok-1")
	at := time.Now()
	pid := "1001"
	confirmed := &store.Assistant{WhatsAppPhoneNumberID: &pid, WhatsAppAccessTokenEnc: enc, WhatsAppVerifiedAt: &at, WhatsAppDisplayPhoneNumber: "+1 555-1001"}
	legacy := &store.Assistant{WhatsAppPhoneNumberID: &pid, WhatsAppAccessTokenEnc: enc}
	unreadable := &store.Assistant{WhatsAppPhoneNumberID: &pid, WhatsAppAccessTokenEnc: foreign, WhatsAppVerifiedAt: &at}

	type call struct{ pid, token string }
	cases := []struct {
		name      string
		stored    *store.Assistant
		pid, tok  string
		answer    error
		asked     []call
		field     string // the ConfirmError's field, "" for none
		confirmed bool   // u.Confirmed set
	}{
		{"new", nil, "1001", "tok-1", nil, []call{{"1001", "tok-1"}}, "", true},
		{"new, refused", nil, "1001", "tok-1", &whatsapp.NumberError{Reason: "no"}, []call{{"1001", "tok-1"}}, "whatsapp_access_token", false},
		{"new, unreachable", nil, "1001", "tok-1", &whatsapp.NumberError{Unreachable: true, Reason: "down"}, []call{{"1001", "tok-1"}}, "whatsapp_access_token", false},
		{"disconnect", confirmed, "", "", nil, nil, "", false},
		{"unchanged", confirmed, "1001", "", nil, nil, "", false},
		{"same token typed again", confirmed, "1001", "tok-1", nil, nil, "", false},
		{"new token", confirmed, "1001", "tok-2", nil, []call{{"1001", "tok-2"}}, "", true},
		{"new number, stored token", confirmed, "1002", "", nil, []call{{"1002", "tok-1"}}, "", true},
		{"legacy, untouched", legacy, "1001", "", nil, []call{{"1001", "tok-1"}}, "", true},
		{"legacy, untouched, refused", legacy, "1001", "", &whatsapp.NumberError{Reason: "no"}, []call{{"1001", "tok-1"}}, "", false},
		{"legacy, new token refused", legacy, "1001", "tok-2", &whatsapp.NumberError{Reason: "no"}, []call{{"1001", "tok-2"}}, "whatsapp_access_token", false},
		{"stored token unreadable", unreadable, "1002", "", nil, nil, "whatsapp_access_token", false},
	}
	for _, c := range cases {
		var asked []call
		confirm := func(_ context.Context, pid, token string) (model.WhatsAppNumber, error) {
			asked = append(asked, call{pid, token})
			return model.WhatsAppNumber{DisplayPhoneNumber: "+1 555-" + pid, VerifiedName: "Shop"}, c.answer
		}
		u := assistants.Update{AccessToken: c.tok}
		u.Name, u.Model, u.WhatsAppPhoneNumberID = "A", "m", c.pid
		err := u.ConfirmWhatsApp(context.Background(), k, c.stored, confirm)
		var ce *assistants.ConfirmError
		switch {
		case c.field == "" && err != nil, c.field != "" && (!errors.As(err, &ce) || ce.Field != c.field):
			t.Fatalf("%s: %v", c.name, err)
		case len(asked) != len(c.asked) || len(asked) > 0 && asked[0] != c.asked[0]:
			t.Fatalf("%s: asked %v, want %v", c.name, asked, c.asked)
		case (u.Confirmed != nil) != c.confirmed:
			t.Fatalf("%s: confirmed %+v", c.name, u.Confirmed)
		}
		if c.field != "" || c.stored == nil {
			continue
		}
		// Apply writes it: what Meta said, or the connection as it was.
		row := *c.stored
		if err := u.Apply(&row, k); err != nil {
			t.Fatal(err)
		}
		switch {
		case c.pid == "" && (row.WhatsAppPhoneNumberID != nil || row.WhatsAppVerifiedAt != nil || row.WhatsAppDisplayPhoneNumber != ""):
			t.Fatalf("%s: %+v", c.name, row)
		case c.confirmed && (row.WhatsAppVerifiedAt == nil || row.WhatsAppDisplayPhoneNumber != "+1 555-"+c.pid || row.PhoneNumberID() != c.pid):
			t.Fatalf("%s: %+v", c.name, row)
		case c.pid != "" && !c.confirmed && (row.WhatsAppAccessTokenEnc != c.stored.WhatsAppAccessTokenEnc || (row.WhatsAppVerifiedAt == nil) != (c.stored.WhatsAppVerifiedAt == nil)):
			t.Fatalf("%s: an unconfirmed save changed the connection: %+v", c.name, row)
		}
	}
}
