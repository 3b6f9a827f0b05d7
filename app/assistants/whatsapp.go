package assistants

import (
	"context"
	"errors"
	"fmt"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/whatsapp"
)

// ConfirmFunc asks Meta to confirm that token may use a phone number id
// (whatsapp.Service.ConfirmNumber); its errors are *whatsapp.NumberError.
type ConfirmFunc func(ctx context.Context, phoneNumberID, token string) (model.WhatsAppNumber, error)

// ConfirmError is a WhatsApp connection Meta did not confirm: 422, with the reason beside the
// access token; or, when Unreachable, the Graph API could not be asked (502). Nothing is
// saved either way.
type ConfirmError struct {
	FieldError
	Unreachable bool
}

// Errors is the error as the field errors of a form or of the API.
func (e *ConfirmError) Errors() Errors { return Errors{e.FieldError} }

// ErrConnectionChanged is a WhatsApp connection changed by someone else while Meta was asked
// about it: nothing is saved; try again.
var ErrConnectionChanged = errors.New("the assistant's WhatsApp connection changed while it was being confirmed; nothing was saved, try again")

// ConfirmWhatsApp is the one rule of when a WhatsApp connection is confirmed, for the dashboard
// and the API alike; u must be valid. stored is the assistant as it is (nil for a new one).
// A number is connected only when Meta confirms it with the token that will be stored: a new
// number, a new token, or a connection never confirmed is put to Meta (confirm), and what Meta
// said is kept in u.Confirmed for Apply; the same number with the same token, confirmed
// before, is not asked again (a token typed again unchanged is dropped from u). Without a
// phone number id nothing is asked. Meta's refusal or silence is a *ConfirmError, except for a
// connection that this update leaves as it was and that was never confirmed (one made before
// numbers were confirmed): an edit of other settings is not refused for it, and the number
// stays unconfirmed, receiving nothing, until a token Meta confirms is entered.
// Call it before the write's transaction: it waits for the Graph API.
func (u *Update) ConfirmWhatsApp(ctx context.Context, k *auth.Keys, stored *store.Assistant, confirm ConfirmFunc) error {
	u.Confirmed = nil
	pid := u.WhatsAppPhoneNumberID
	if pid == "" {
		return nil
	}
	token := u.AccessToken
	untouched := false
	if stored != nil && stored.WhatsAppAccessTokenEnc != "" {
		old, err := AccessToken(k, stored)
		switch {
		case err == nil && (token == "" || token == old):
			u.AccessToken, token = "", old // the stored one, kept
		case err != nil && token == "":
			return &ConfirmError{FieldError: FieldError{Field: "whatsapp_access_token",
				Msg: "the stored access token cannot be read with this installation's secret key; enter it again"}}
		}
		untouched = stored.PhoneNumberID() == pid && u.AccessToken == ""
		if untouched && stored.WhatsAppVerifiedAt != nil {
			return nil // the same number with the same token, confirmed before
		}
	}
	if token == "" { // Validate requires a token to connect a number
		return &ConfirmError{FieldError: FieldError{Field: "whatsapp_access_token", Msg: "is required to connect a phone number"}}
	}
	n, err := confirm(ctx, pid, token)
	var ne *whatsapp.NumberError
	switch {
	case err != nil && untouched:
		return nil // left as it was: unconfirmed
	case errors.As(err, &ne):
		return &ConfirmError{FieldError: FieldError{Field: "whatsapp_access_token", Msg: ne.Reason}, Unreachable: ne.Unreachable}
	case err != nil:
		return &ConfirmError{FieldError: FieldError{Field: "whatsapp_access_token", Msg: "Meta's Graph API could not be asked to confirm the number; nothing was saved, try again"}, Unreachable: true}
	}
	u.Confirmed = &n
	return nil
}

// SameConnection reports whether two versions of an assistant hold the same WhatsApp
// connection (number, token and confirmation): a write prepared against one may be applied
// to the other without asking Meta again.
func SameConnection(a, b *store.Assistant) bool {
	return a.PhoneNumberID() == b.PhoneNumberID() && a.WhatsAppAccessTokenEnc == b.WhatsAppAccessTokenEnc &&
		(a.WhatsAppVerifiedAt == nil) == (b.WhatsAppVerifiedAt == nil)
}

// applyWhatsApp writes the WhatsApp connection of a validated update into a row: a new token
// encrypted with k; no phone number id clears the connection. What Meta confirmed
// (u.Confirmed) is stored with the time; a connection that changes without Meta's
// confirmation is stored unconfirmed, and so receives nothing.
func (u *Update) applyWhatsApp(row *store.Assistant, k *auth.Keys) error {
	pid := u.WhatsAppPhoneNumberID
	if pid == "" {
		row.WhatsAppPhoneNumberID, row.WhatsAppAccessTokenEnc = nil, ""
		setConfirmed(row, nil)
		return nil
	}
	changed := row.PhoneNumberID() != pid || u.AccessToken != ""
	row.WhatsAppPhoneNumberID = &pid
	if u.AccessToken != "" {
		enc, err := k.Encrypt(u.AccessToken)
		if err != nil {
			return fmt.Errorf("encrypt access token: %w", err)
		}
		row.WhatsAppAccessTokenEnc = enc
	}
	switch {
	case u.Confirmed != nil:
		setConfirmed(row, u.Confirmed)
	case changed:
		setConfirmed(row, nil)
	}
	return nil
}

func setConfirmed(row *store.Assistant, n *model.WhatsAppNumber) {
	if n == nil {
		row.WhatsAppDisplayPhoneNumber, row.WhatsAppVerifiedName, row.WhatsAppVerifiedAt = "", "", nil
		return
	}
	at := store.Now()
	row.WhatsAppDisplayPhoneNumber, row.WhatsAppVerifiedName, row.WhatsAppVerifiedAt = n.DisplayPhoneNumber, n.VerifiedName, &at
}
