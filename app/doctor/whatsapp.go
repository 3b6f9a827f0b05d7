package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/whatsapp"
)

// ---- WhatsApp ----

func (d *doctor) whatsapp(ctx context.Context) {
	c := d.cfg
	var as []store.Assistant
	if !d.schemaOK {
		why := "the migrations are not all applied"
		if d.store == nil {
			why = d.dbErr
		}
		defer d.add("whatsapp numbers", Warn, "not checked: "+why, "")
	} else {
		qctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
		var err error
		as, err = d.store.WhatsAppAssistants(qctx)
		cancel()
		if err != nil {
			d.add("whatsapp numbers", Fail, "cannot list the assistants: "+plainErr(err), "")
			as = nil
		}
	}
	secret, verify := c.WhatsAppAppSecret != "", c.WhatsAppVerifyToken != ""
	switch {
	case secret && verify:
		d.add("whatsapp", OK, "PARLEY_WHATSAPP_APP_SECRET and PARLEY_WHATSAPP_VERIFY_TOKEN are set; Graph API "+c.WhatsAppGraphURL, "")
	case !secret && !verify && len(as) == 0:
		d.add("whatsapp", OK, "not set up: no assistant has a WhatsApp number and neither PARLEY_WHATSAPP_APP_SECRET nor PARLEY_WHATSAPP_VERIFY_TOKEN is set", "")
	default:
		var missing []string
		if !secret {
			missing = append(missing, "PARLEY_WHATSAPP_APP_SECRET is not set: every WhatsApp webhook is refused, so no customer message arrives")
		}
		if !verify {
			missing = append(missing, "PARLEY_WHATSAPP_VERIFY_TOKEN is not set: Meta cannot verify the webhook URL")
		}
		st := Warn
		if !secret && len(as) > 0 {
			st = Fail
		}
		d.add("whatsapp", st, strings.Join(missing, "; "),
			"Copy the app secret from Meta's App Dashboard (App settings > Basic) and choose a verify token, the same one entered in the webhook settings.")
	}
	for i := range as {
		d.whatsappNumber(ctx, &as[i])
	}
}

func (d *doctor) whatsappNumber(ctx context.Context, a *store.Assistant) {
	pid := *a.WhatsAppPhoneNumberID
	name := fmt.Sprintf("whatsapp %s", pid)
	who := fmt.Sprintf("assistant %q (workspace %d)", a.Name, a.WorkspaceID)
	if a.WhatsAppAccessTokenEnc == "" {
		d.add(name, Fail, who+" has the phone number id but no access token", "Open the assistant in the dashboard and save its access token.")
		return
	}
	if d.keys == nil {
		d.add(name, Warn, "not checked: without the secret key the access token of "+who+" cannot be decrypted", "")
		return
	}
	token, err := assistants.AccessToken(d.keys, a)
	if err != nil {
		d.add(name, Fail, "the stored access token of "+who+" does not decrypt with this PARLEY_SECRET_KEY (was the key changed?)",
			"Use the secret key the token was saved with, or save the access token again on the assistant.")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	graph := &whatsapp.Client{BaseURL: d.cfg.WhatsAppGraphURL, HTTP: d.o.HTTP}
	ok, err := graph.PhoneNumber(ctx, pid, token)
	var ae *whatsapp.APIError
	if errors.As(err, &ae) {
		msg, fix := graphError(ae)
		d.add(name, Fail, who+": Meta refuses: "+msg, fix)
		return
	}
	if err != nil {
		d.add(name, Fail, "cannot reach the Graph API at "+d.cfg.WhatsAppGraphURL+": "+plainErr(err), "Check the network and PARLEY_WHATSAPP_GRAPH_URL.")
		return
	}
	msg := who + ": the token works"
	if ok.DisplayPhoneNumber != "" || ok.VerifiedName != "" {
		msg += fmt.Sprintf(" for %s (%s)", ok.DisplayPhoneNumber, ok.VerifiedName)
	}
	if a.Disabled {
		msg += "; the assistant is disabled"
	}
	d.add(name, OK, msg, "")
}

// graphError says what Meta's error (read by whatsapp.ParseError, the one Graph error parser)
// means and what to do.
func graphError(e *whatsapp.APIError) (msg, fix string) {
	if !e.Meta() {
		return fmt.Sprintf("HTTP %d %s", e.HTTPStatus, e.Body), "Check PARLEY_WHATSAPP_GRAPH_URL."
	}
	status := e.HTTPStatus
	msg = fmt.Sprintf("HTTP %d, code %d", status, e.Code)
	if e.Subcode != 0 {
		msg += fmt.Sprintf("/%d", e.Subcode)
	}
	msg += ": " + e.Message
	switch e.Code {
	case 190:
		msg += " (the access token is invalid or has expired)"
		fix = "Create a permanent system-user token in Meta Business Settings with whatsapp_business_messaging and whatsapp_business_management, and save it on the assistant."
	case 100:
		msg += " (the phone number id is wrong, or this token cannot see it)"
		fix = "Copy the phone number id from WhatsApp Manager (API setup) and check that the token's system user has the WhatsApp account assigned."
	case 10, 200, 3:
		msg += " (the token lacks a permission)"
		fix = "Give the token whatsapp_business_messaging and whatsapp_business_management."
	case 4, 80007, 130429:
		msg += " (rate limited)"
		fix = "Wait a little and run doctor again."
	default:
		fix = "Look the code up in Meta's Graph API error reference."
	}
	return msg, fix
}
