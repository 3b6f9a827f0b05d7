package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// NumberError is a phone number that could not be confirmed: Meta answered and did not
// confirm it (a wrong token, a phone number id the token cannot see, an answer for another
// number), or, when Unreachable, the Graph API could not be asked (no connection, a timeout,
// 5xx, throttling, an answer that is not Meta's): nothing is known, try again later.
type NumberError struct {
	Unreachable bool
	Reason      string // for the person connecting the number
	Err         error
}

func (e *NumberError) Error() string { return "whatsapp: phone number not confirmed: " + e.Reason }
func (e *NumberError) Unwrap() error { return e.Err }

// ConfirmNumber asks Meta whether token may use the business phone number phoneNumberID:
// GET {graph}/{phone_number_id}?fields=display_phone_number,verified_name with the token.
// Meta confirms it with a 200 that names the same id and the number's display form; it
// returns what Meta said of the number. Any other outcome is a *NumberError.
func (c *Client) ConfirmNumber(ctx context.Context, phoneNumberID, token string) (model.WhatsAppNumber, error) {
	if phoneNumberID == "" || token == "" {
		return model.WhatsAppNumber{}, &NumberError{Reason: "a phone number id and an access token are needed"}
	}
	n, err := c.PhoneNumber(ctx, phoneNumberID, token)
	var ae *APIError
	switch {
	case errors.As(err, &ae):
		return model.WhatsAppNumber{}, numberRefusal(ae, phoneNumberID)
	case err != nil:
		return model.WhatsAppNumber{}, &NumberError{Unreachable: true, Err: err,
			Reason: "Meta's Graph API could not be reached to confirm the number; nothing was saved, try again in a moment"}
	case n.ID != phoneNumberID:
		return model.WhatsAppNumber{}, &NumberError{Reason: fmt.Sprintf("Meta did not confirm phone number id %s: its answer names another number", phoneNumberID)}
	case n.DisplayPhoneNumber == "":
		return model.WhatsAppNumber{}, &NumberError{Reason: fmt.Sprintf("Meta did not confirm phone number id %s: its answer has no phone number", phoneNumberID)}
	}
	return model.WhatsAppNumber{DisplayPhoneNumber: Clean(n.DisplayPhoneNumber), VerifiedName: Clean(n.VerifiedName)}, nil
}

// numberRefusal says what a Graph API error means for a number being confirmed: 401 and 403
// and Meta's own refusals (an invalid token, an unknown id) are a refusal; throttling, 5xx and
// answers that are not Meta's (a proxy, a wrong PARLEY_WHATSAPP_GRAPH_URL) leave it unknown.
func numberRefusal(ae *APIError, phoneNumberID string) *NumberError {
	refused := ae.HTTPStatus == http.StatusUnauthorized || ae.HTTPStatus == http.StatusForbidden || (ae.Meta() && !ae.Retryable())
	if !refused {
		return &NumberError{Unreachable: true, Err: ae,
			Reason: fmt.Sprintf("Meta's Graph API did not answer (HTTP %d); nothing was saved, try again in a moment", ae.HTTPStatus)}
	}
	why := ae.Text()
	switch ae.Code {
	case 190:
		why = "the access token is invalid or has expired (" + why + ")"
	case 100:
		why = "this token cannot see that phone number id, or it does not exist (" + why + ")"
	case 10, 200, 3:
		why = "the token lacks the whatsapp_business_management permission (" + why + ")"
	}
	if why == "" {
		why = fmt.Sprintf("HTTP %d", ae.HTTPStatus)
	}
	return &NumberError{Err: ae, Reason: fmt.Sprintf("Meta did not confirm that this access token may use phone number id %s: %s", phoneNumberID, why)}
}

// ConfirmNumber asks Meta to confirm a phone number id with a token (Client.ConfirmNumber):
// the one check before an assistant is connected to a number, from the dashboard or the API.
func (s *Service) ConfirmNumber(ctx context.Context, phoneNumberID, token string) (model.WhatsAppNumber, error) {
	return s.Client.ConfirmNumber(ctx, phoneNumberID, token)
}

// owner is the assistant that webhooks for phoneNumberID reach: the holder of the number whose
// connection Meta confirmed. A holder connected before numbers were confirmed is confirmed
// here with its stored token, once: Meta's refusal leaves it unconfirmed and the event goes
// nowhere (ErrUnknownNumber), an unreachable Graph API is an error worth retrying.
func (s *Service) owner(ctx context.Context, phoneNumberID string) (*store.Assistant, error) {
	a, err := s.Store.AssistantByPhoneNumberID(ctx, phoneNumberID)
	if !errors.Is(err, store.ErrNotFound) {
		return a, err
	}
	unknown := fmt.Errorf("%w: %q", ErrUnknownNumber, phoneNumberID)
	a, err = s.Store.PhoneNumberHolder(ctx, phoneNumberID)
	if errors.Is(err, store.ErrNotFound) || err == nil && a.WhatsAppAccessTokenEnc == "" {
		return nil, unknown
	}
	if err != nil {
		return nil, err
	}
	token := a.WhatsAppAccessTokenEnc
	if s.Decrypt != nil {
		if token, err = s.Decrypt(a.WhatsAppAccessTokenEnc); err != nil {
			return nil, unknown
		}
	}
	n, err := s.ConfirmNumber(ctx, phoneNumberID, token)
	var ne *NumberError
	if errors.As(err, &ne) && !ne.Unreachable {
		s.log().Warn("whatsapp: Meta did not confirm a stored connection; its events are dropped until the assistant is saved with a token Meta confirms",
			"assistant_id", a.ID, "workspace_id", a.WorkspaceID, "reason", ne.Reason)
		return nil, unknown
	}
	if err != nil {
		return nil, err
	}
	at := s.now()
	// Confirmed when its first event came: the system's doing, recorded as such.
	entry := audit.NewBy(audit.System, a.WorkspaceID, audit.AssistantWhatsAppConnect, audit.On(audit.TargetAssistant, a.ID),
		map[string]any{"name": a.Name, "phone_number_id": phoneNumberID, "display_phone_number": n.DisplayPhoneNumber, "verified_name": n.VerifiedName})
	err = s.Store.ConfirmPhoneNumber(ctx, a.WorkspaceID, a.ID, phoneNumberID, a.WhatsAppAccessTokenEnc, n.DisplayPhoneNumber, n.VerifiedName, at, entry)
	if errors.Is(err, store.ErrNotFound) { // changed meanwhile: look again
		if a, err = s.Store.AssistantByPhoneNumberID(ctx, phoneNumberID); errors.Is(err, store.ErrNotFound) {
			return nil, unknown
		}
		return a, err
	}
	if err != nil {
		return nil, err
	}
	a.WhatsAppDisplayPhoneNumber, a.WhatsAppVerifiedName, a.WhatsAppVerifiedAt = n.DisplayPhoneNumber, n.VerifiedName, &at
	return a, nil
}
