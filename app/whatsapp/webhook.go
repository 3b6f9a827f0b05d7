// Package whatsapp holds the rules and wire formats of the WhatsApp Business Cloud API: the
// webhook payload, its signature, the split of one delivery into raw inbound events, the
// content of customer messages, the 24-hour customer-service window, the Graph API client
// (text and template sends) and the Service that stores inbound messages and statuses, sends
// outgoing messages, closes windows and decides whether an AI reply is due (ReplyIfDue).
//
// It may use app/store and app/conversation (which publishes its changes); it never imports
// app/web, views or workers: task handlers call its Service.
// It has no HTTP server code: app/web receives the webhook, workers/ runs the processing.
package whatsapp

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Provider is the provider name of WhatsApp's raw inbound events.
const Provider = "whatsapp"

// Kinds of raw inbound events.
const (
	KindMessage = "message" // one entry of value.messages[]
	KindStatus  = "status"  // one entry of value.statuses[]
	KindChange  = "change"  // a change with neither (other webhook fields, errors): stored, not acted on
)

// SignatureHeader carries the HMAC of the raw body.
const SignatureHeader = "X-Hub-Signature-256"

// MaxBodyBytes is the largest webhook body accepted (413 past it).
const MaxBodyBytes = 3 << 20

// ErrBadSignature is a missing, malformed or wrong X-Hub-Signature-256.
var ErrBadSignature = errors.New("whatsapp: missing or invalid X-Hub-Signature-256")

// Sign returns the X-Hub-Signature-256 value of body: "sha256=" and the lowercase hex
// HMAC-SHA256 keyed with the app secret.
func Sign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks header against the raw body in constant time. An empty secret never
// verifies.
func VerifySignature(appSecret string, body []byte, header string) error {
	if appSecret == "" {
		return ErrBadSignature
	}
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return ErrBadSignature
	}
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}

// Webhook is one POST of Meta's webhook: entries of changes. Values are kept raw so that
// nothing Meta adds is lost.
type Webhook struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry is one WhatsApp Business Account's changes.
type Entry struct {
	ID      string   `json:"id"`
	Changes []Change `json:"changes"`
}

// Change is one field's update.
type Change struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

// Value is a "messages" change: messages and statuses of one business phone number.
type Value struct {
	MessagingProduct string            `json:"messaging_product"`
	Metadata         Metadata          `json:"metadata"`
	Contacts         []json.RawMessage `json:"contacts"`
	Messages         []json.RawMessage `json:"messages"`
	Statuses         []json.RawMessage `json:"statuses"`
}

// Metadata names the business phone number a change is about.
type Metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

// Contact is the sender's profile.
type Contact struct {
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
	WaID string `json:"wa_id"`
}

// Message is the part of an inbound message Parley reads; the raw JSON is kept beside it.
type Message struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Text      *struct {
		Body string `json:"body"`
	} `json:"text"`
	Interactive *struct {
		Type        string `json:"type"`
		ButtonReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"list_reply"`
	} `json:"interactive"`
	Button *struct {
		Text    string `json:"text"`
		Payload string `json:"payload"`
	} `json:"button"`
	Image    *Media `json:"image"`
	Video    *Media `json:"video"`
	Document *Media `json:"document"`
}

// Media is an image, video or document; only the caption is content.
type Media struct {
	Caption  string `json:"caption"`
	MimeType string `json:"mime_type"`
	ID       string `json:"id"`
}

// Status is a delivery receipt of a message we sent.
type Status struct {
	ID          string        `json:"id"`
	Status      string        `json:"status"`
	Timestamp   string        `json:"timestamp"`
	RecipientID string        `json:"recipient_id"`
	Errors      []StatusError `json:"errors"`
	// CallbackData is the biz_opaque_callback_data given when sending: Parley puts the
	// outgoing message's idempotency key there, so a status can be matched to a message whose
	// send answer was lost.
	CallbackData string `json:"biz_opaque_callback_data"`
}

// StatusError is one reason of a failed status.
type StatusError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

// Text is "code title: details" for the message's status_error.
func (e StatusError) Text() string {
	var b strings.Builder
	if e.Code != 0 {
		b.WriteString(strconv.Itoa(e.Code))
	}
	title := e.Title
	if title == "" {
		title = e.Message
	}
	if title != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(title)
	}
	if d := e.ErrorData.Details; d != "" && d != title {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(d)
	} else if e.Message != "" && e.Message != title {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// EventPayload is what one raw inbound event stores: one message or status of a delivery
// with the context it needs (which business number, who wrote), or a whole other change.
type EventPayload struct {
	EntryID            string          `json:"entry_id,omitempty"`
	Field              string          `json:"field,omitempty"`
	PhoneNumberID      string          `json:"phone_number_id,omitempty"`
	DisplayPhoneNumber string          `json:"display_phone_number,omitempty"`
	Contact            json.RawMessage `json:"contact,omitempty"`
	Message            json.RawMessage `json:"message,omitempty"`
	Status             json.RawMessage `json:"status,omitempty"`
	Value              json.RawMessage `json:"value,omitempty"`
}

// Event is one raw inbound event to store.
type Event struct {
	Kind       string
	ProviderID string // message id; "<message id>:<status>" for a status
	Payload    []byte
}

// ErrMalformed is a body that is not a JSON webhook object.
var ErrMalformed = errors.New("whatsapp: malformed webhook body")

// Split parses a webhook body and returns one event per message, per status, and per change
// that has neither, in a stable order (by provider id). Unknown fields and message types are
// kept in the raw payloads. Only a body that is not JSON, or not shaped as entries of
// changes, is ErrMalformed.
func Split(body []byte) ([]Event, error) {
	var w Webhook
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// Anything but spaces after the object (another value, a stray } or ]) is malformed;
	// dec.More() would miss a closing bracket.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	seen := map[string]bool{}
	var evs []Event
	add := func(kind, id string, p EventPayload) error {
		if seen[id] { // the same message or status twice in one body: one event
			return nil
		}
		b, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		// Raw parts keep the bytes Meta sent; invalid UTF-8 inside a string would make the
		// database refuse the row (and the delivery fail forever): each invalid byte becomes
		// U+FFFD, as encoding/json does for the other channels.
		if !utf8.Valid(b) {
			b = []byte(strings.Map(func(r rune) rune { return r }, string(b)))
		}
		seen[id] = true
		evs = append(evs, Event{Kind: kind, ProviderID: id, Payload: b})
		return nil
	}
	for _, e := range w.Entry {
		for _, ch := range e.Changes {
			base := EventPayload{EntryID: e.ID, Field: ch.Field}
			var v Value
			if len(ch.Value) == 0 || json.Unmarshal(ch.Value, &v) != nil || len(v.Messages)+len(v.Statuses) == 0 {
				// Another field, errors only, or a shape we do not know: keep it whole.
				p := base
				p.Value = ch.Value
				if err := add(KindChange, "change:"+hashOf(e.ID, ch.Field, string(ch.Value)), p); err != nil {
					return nil, err
				}
				continue
			}
			base.PhoneNumberID = v.Metadata.PhoneNumberID
			base.DisplayPhoneNumber = v.Metadata.DisplayPhoneNumber
			for _, raw := range v.Messages {
				var m struct {
					ID   string `json:"id"`
					From string `json:"from"`
				}
				_ = json.Unmarshal(raw, &m) // a message that is not an object is stored as it is
				id := m.ID
				if !storableID(id) {
					id = "message:" + hashOf(string(raw))
				}
				p := base
				p.Message = raw
				p.Contact = contactFor(v.Contacts, m.From)
				if err := add(KindMessage, id, p); err != nil {
					return nil, err
				}
			}
			for _, raw := range v.Statuses {
				var st struct {
					ID     string `json:"id"`
					Status string `json:"status"`
				}
				_ = json.Unmarshal(raw, &st)
				id := statusEventID(st.ID, st.Status, raw)
				p := base
				p.Status = raw
				if err := add(KindStatus, id, p); err != nil {
					return nil, err
				}
			}
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].ProviderID < evs[j].ProviderID })
	return evs, nil
}

// statusEventID is the provider id of a status event: "<message id>:<status>", or a hash of
// the raw status when those are not storable.
func statusEventID(id, status string, raw []byte) string {
	if !storableID(id) || !storableID(status) && status != "" {
		return "status:" + hashOf(string(raw))
	}
	return id + ":" + status
}

// storableID reports an id that can be the provider id of a stored event as it is: not empty,
// short enough for the unique index, no NUL (refused by PostgreSQL text). Others are replaced
// by a hash of the raw part.
func storableID(id string) bool {
	return id != "" && len(id) <= 200 && !strings.ContainsRune(id, 0)
}

// contactFor picks the contact of the sender: the one whose wa_id is from, or the only one.
func contactFor(contacts []json.RawMessage, from string) json.RawMessage {
	for _, raw := range contacts {
		var c Contact
		if json.Unmarshal(raw, &c) == nil && c.WaID != "" && c.WaID == from {
			return raw
		}
	}
	if len(contacts) == 1 {
		return contacts[0]
	}
	return nil
}

func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// MaxClockSkew is how far in the future a message's WhatsApp timestamp may be (clocks differ);
// a later one is replaced by the time the message was received.
const MaxClockSkew = 5 * time.Minute

// ParseTimestamp reads Meta's Unix-seconds string; ok=false when it is missing or invalid.
func ParseTimestamp(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	// Years 2000 to 9999: Meta's times are Unix seconds of now; others are not times the
	// databases (or the window) can use.
	if err != nil || n < 946684800 || n > 253402300799 {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// DecodeEvent reads a stored event payload.
func DecodeEvent(payload string) (*EventPayload, error) {
	p := new(EventPayload)
	if err := json.Unmarshal([]byte(payload), p); err != nil {
		return nil, fmt.Errorf("whatsapp: bad event payload: %w", err)
	}
	return p, nil
}

// Sender returns the event's contact (zero when there is none).
func (p *EventPayload) Sender() Contact {
	var c Contact
	if len(p.Contact) > 0 {
		_ = json.Unmarshal(p.Contact, &c)
	}
	return c
}
